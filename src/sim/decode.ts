/**
 * The simulator reads the store through the production codecs, as every node does: a value that does
 * not decode is a bug in the code under test (no simulated writer puts invalid values), so it throws
 * and the run fails, naming the key and the problem.
 */
import { keys, nameFromKey } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import { type Codec, nodeRecordCodec, placementCodec, vmStatusCodec } from "../core/store-codecs.js";
import {
  type Placement,
  type ScheduledVm,
  scheduledVm,
  type VmRecord,
  type VmStatus,
} from "../core/vm-record.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import type { KeyValue, Store } from "../ports/store.js";

function must<T>(codec: Codec<T>, key: string, value: string): T {
  const decoded = codec.decode(value);
  if (!decoded.ok) throw new Error(`the store holds an invalid ${codec.kind} at ${key}: ${decoded.problem}`);
  return decoded.value;
}

export function vmRecordOf(kv: Pick<KeyValue, "key" | "value">): VmRecord {
  const decoded = decodeVmRecord(nameFromKey(keys.vmsPrefix, kv.key), kv.value);
  if (!decoded.ok) throw new Error(`the store holds an invalid VM record at ${kv.key}: ${decoded.problem}`);
  return decoded.record;
}

export const vmStatusOf = (key: string, value: string): VmStatus => must(vmStatusCodec, key, value);
export const nodeRecordOf = (key: string, value: string): NodeRecord => must(nodeRecordCodec, key, value);

export const placementOf = (key: string, value: string): Placement => must(placementCodec, key, value);

/** Every VM record joined with its placement, as the scheduler sees them. */
export async function scheduledVms(store: Store): Promise<ScheduledVm[]> {
  const [vms, placements] = await Promise.all([
    store.range(keys.vmsPrefix),
    store.range(keys.placementsPrefix),
  ]);
  const placed = new Map(
    placements.kvs.map((kv) => [nameFromKey(keys.placementsPrefix, kv.key), placementOf(kv.key, kv.value)]),
  );
  return vms.kvs.map((kv) => {
    const record = vmRecordOf(kv);
    return scheduledVm(record, placed.get(record.name));
  });
}
