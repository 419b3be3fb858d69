/**
 * Decorators that forward every call of a Store or VmDriver to the real one except those given. The
 * planted bugs (planted-bugs.ts) use them to change one behaviour of a port and keep the rest intact.
 */
import type { Store } from "../ports/store.js";
import type { VmDriver } from "../ports/vm-driver.js";

export type DriverOverrides = Partial<
  Pick<VmDriver, "prepare" | "start" | "stop" | "inspect" | "adopt" | "list" | "remove">
>;

export function overrideDriver(inner: VmDriver, parts: DriverOverrides): VmDriver {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    prepare: parts.prepare ?? ((name, spec, progress) => inner.prepare(name, spec, progress)),
    start: parts.start ?? ((name, spec, options) => inner.start(name, spec, options)),
    stop: parts.stop ?? ((name, options) => inner.stop(name, options)),
    inspect: parts.inspect ?? ((name) => inner.inspect(name)),
    adopt: parts.adopt ?? ((name) => inner.adopt(name)),
    logs: (name, tail) => inner.logs(name, tail),
    streamLogs: (name, tail, chunkBytes) => inner.streamLogs(name, tail, chunkBytes),
    followLogs: (name, offset, signal) => inner.followLogs(name, offset, signal),
    logSize: (name) => inner.logSize(name),
    list: parts.list ?? (() => inner.list()),
    remove: parts.remove ?? ((name) => inner.remove(name)),
  };
}

export type StoreOverrides = Partial<Pick<Store, "put" | "delete" | "txn">>;

export function overrideStore(inner: Store, parts: StoreOverrides): Store {
  return {
    get: (key) => inner.get(key),
    range: (prefix, options) => inner.range(prefix, options),
    put: parts.put ?? ((key, value, options) => inner.put(key, value, options)),
    delete: parts.delete ?? ((key) => inner.delete(key)),
    txn: parts.txn ?? ((request) => inner.txn(request)),
    watch: (prefix, options) => inner.watch(prefix, options),
    grantLease: (ttl) => inner.grantLease(ttl),
    keepAlive: (lease) => inner.keepAlive(lease),
    revokeLease: (lease) => inner.revokeLease(lease),
    compact: (revision) => inner.compact(revision),
    revision: () => inner.revision(),
    close: () => inner.close(),
  };
}
