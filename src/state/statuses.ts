/**
 * Reading one VM's status report on demand, for the few places that need it without following every
 * status (the leader's hand-off and resize checks, an agent taking back its own report).
 */
import { keys } from "../core/keys.js";
import { vmStatusCodec } from "../core/store-codecs.js";
import type { VmStatus } from "../core/vm-record.js";
import type { KeyValue, Store } from "../ports/store.js";

/** The VM's status and its key-value; undefined when it has none, or one that cannot be read. */
export async function readStatus(
  store: Store,
  name: string,
): Promise<{ status: VmStatus; kv: KeyValue } | undefined> {
  const kv = await store.get(keys.status(name));
  const decoded = kv ? vmStatusCodec.decode(kv.value) : undefined;
  return kv && decoded?.ok ? { status: decoded.value, kv } : undefined;
}
