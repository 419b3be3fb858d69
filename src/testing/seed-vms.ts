/**
 * Writes VMs into a store as the API and the leader's scheduler together would have left them, for
 * tests that start from a given cluster state: the record, then (when the VM has a node or a
 * scheduling note) its placement and its node's assignment. And reads a VM back joined the same way.
 */
import { keys } from "../core/keys.js";
import { placementCodec, vmStatusCodec } from "../core/store-codecs.js";
import {
  initialStatus,
  type ScheduledVm,
  scheduledVm,
  type VmRecord,
  type VmStatus,
} from "../core/vm-record.js";
import { decodeVmRecord, encodeVmRecord } from "../core/vm-record-codec.js";
import type { Store } from "../ports/store.js";
import { placeVmOps } from "../state/vm-transactions.js";

/** The user's part of a scheduled VM. */
export function recordOf(vm: ScheduledVm | VmRecord): VmRecord {
  const { node: _n, epoch: _e, unschedulable: _u, handoffFrom: _h, ...record } = vm as ScheduledVm;
  return record;
}

/** Writes the VM's record and, when it is placed or was tried, its placement and assignment. */
export async function seedVm(store: Store, vm: ScheduledVm | VmRecord): Promise<void> {
  const record = recordOf(vm);
  const revision = await store.put(keys.vm(record.name), encodeVmRecord(record));
  const { node = "", epoch, unschedulable, handoffFrom } = vm as Partial<ScheduledVm>;
  if (node === "" && unschedulable === undefined && handoffFrom === undefined) return;
  const placement = {
    node,
    epoch: epoch ?? 0,
    recordRevision: revision,
    ...(unschedulable === undefined ? {} : { unschedulable }),
    ...(handoffFrom === undefined ? {} : { handoffFrom }),
  };
  const current = await store.get(keys.placement(record.name));
  const previous = current ? placementCodec.decode(current.value) : undefined;
  const previousNode = previous?.ok ? previous.value.node : "";
  await store.txn({ compare: [], success: placeVmOps(record, placement, previousNode) });
}

/** The VM's record joined with its placement, or undefined when it has no record. */
export async function scheduledOf(store: Store, name: string): Promise<ScheduledVm | undefined> {
  const [kv, placed] = await Promise.all([store.get(keys.vm(name)), store.get(keys.placement(name))]);
  if (!kv) return undefined;
  const decoded = decodeVmRecord(name, kv.value);
  if (!decoded.ok) throw new Error(`invalid record for ${name}: ${decoded.problem}`);
  const placement = placed ? placementCodec.decode(placed.value) : undefined;
  if (placement && !placement.ok) throw new Error(`invalid placement for ${name}: ${placement.problem}`);
  return scheduledVm(decoded.record, placement?.value);
}

/**
 * Does what the leader's scheduler does for a VM whose record exists: places it on `node` (a new
 * epoch when it moves; "" unplaces it), or, with `node` undefined, copies its changed record to the
 * node it is on. For agent tests, which run no scheduler.
 */
export async function placeOn(store: Store, name: string, node?: string): Promise<void> {
  const [kv, placed] = await Promise.all([store.get(keys.vm(name)), store.get(keys.placement(name))]);
  if (!kv) throw new Error(`no record for ${name}`);
  const decoded = decodeVmRecord(name, kv.value);
  if (!decoded.ok) throw new Error(`invalid record for ${name}: ${decoded.problem}`);
  const previous = placed ? placementCodec.decode(placed.value) : undefined;
  const before = previous?.ok ? previous.value : { node: "", epoch: 0 };
  const target = node ?? before.node;
  const epoch = target === before.node ? before.epoch : before.epoch + 1;
  await store.txn({
    compare: [],
    success: placeVmOps(decoded.record, { node: target, epoch, recordRevision: kv.modRevision }, before.node),
  });
}

/** Writes the VM's status as its node's agent would report it: the initial one with `overrides`. */
export async function reportStatus(
  store: Store,
  name: string,
  node: string,
  overrides: Partial<VmStatus>,
): Promise<void> {
  const status: VmStatus = { ...initialStatus(node, new Date(0).toISOString()), ...overrides };
  await store.put(keys.status(name), vmStatusCodec.encode(status));
}
