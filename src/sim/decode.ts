/**
 * The simulator reads the store through the production codecs, as every node does: a value that does
 * not decode is a bug in the code under test (no simulated writer puts invalid values), so it throws
 * and the run fails, naming the key and the problem.
 */
import { keys, nameFromKey } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import { type Codec, nodeRecordCodec, vmStatusCodec } from "../core/store-codecs.js";
import type { VmRecord, VmStatus } from "../core/vm-record.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import type { KeyValue } from "../ports/store.js";

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
