/**
 * Desired-state reads and writes for VMs. Every update is a compare-and-swap on the record's
 * mod revision, retried on conflict, so concurrent requests never lose each other's changes.
 */
import { BlixardError } from "../core/errors.js";
import { keys, nameFromKey } from "../core/keys.js";
import { initialStatus, type VmRecord, type VmStatus, type VmView } from "../core/vm-record.js";
import type { Clock } from "../ports/clock.js";
import type { KeyValue, Store } from "../ports/store.js";

const MAX_CAS_ATTEMPTS = 20;

export class VmRepository {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  async get(name: string): Promise<VmView> {
    const [vm, status] = await Promise.all([
      this.store.get(keys.vm(name)),
      this.store.get(keys.status(name)),
    ]);
    if (!vm) throw notFound(name);
    return toView(JSON.parse(vm.value) as VmRecord, status);
  }

  async list(): Promise<VmView[]> {
    const [vms, statuses] = await Promise.all([
      this.store.range(keys.vmsPrefix),
      this.store.range(keys.statusPrefix),
    ]);
    const byName = new Map(statuses.kvs.map((kv) => [nameFromKey(keys.statusPrefix, kv.key), kv]));
    return vms.kvs.map((kv) => {
      const record = JSON.parse(kv.value) as VmRecord;
      return toView(record, byName.get(record.name));
    });
  }

  /** Creates the record only if no VM of that name exists. */
  async create(record: VmRecord): Promise<VmView> {
    const now = new Date(this.clock.now()).toISOString();
    const status = initialStatus(record.node, now, record.restartNonce);
    const result = await this.store.txn({
      compare: [{ key: keys.vm(record.name), target: "createRevision", op: "=", value: 0 }],
      success: [
        { type: "put", key: keys.vm(record.name), value: JSON.stringify(record) },
        { type: "put", key: keys.status(record.name), value: JSON.stringify(status) },
      ],
    });
    if (!result.succeeded) {
      throw new BlixardError(
        "ALREADY_EXISTS",
        `VM "${record.name}" already exists; choose another name or delete it first with: blixard vm delete ${record.name}`,
      );
    }
    return { ...viewOf(record), status };
  }

  /** Applies `change` to the current record atomically; `change` may throw to refuse. */
  async update(name: string, change: (record: VmRecord) => VmRecord): Promise<VmView> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const kv = await this.store.get(keys.vm(name));
      if (!kv) throw notFound(name);
      const next = change(JSON.parse(kv.value) as VmRecord);
      const result = await this.store.txn({
        compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
        success: [{ type: "put", key: kv.key, value: JSON.stringify(next) }],
      });
      if (result.succeeded) return this.get(name);
    }
    throw new BlixardError("CONFLICT", `VM "${name}" is being changed concurrently; retry the request`);
  }
}

function viewOf(record: VmRecord): Omit<VmView, "status"> {
  return {
    name: record.name,
    spec: record.spec,
    desiredState: record.desiredState,
    deleting: record.deleting,
    createdAt: record.createdAt,
  };
}

function toView(record: VmRecord, status: KeyValue | undefined): VmView {
  const observed: VmStatus = status
    ? (JSON.parse(status.value) as VmStatus)
    : initialStatus(record.node, record.createdAt, record.restartNonce);
  return { ...viewOf(record), status: observed };
}

function notFound(name: string): BlixardError {
  return new BlixardError("NOT_FOUND", `VM "${name}" not found; list VMs with: blixard vm list`);
}
