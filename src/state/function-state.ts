/**
 * One read of everything the pool controller and `fn get` need about functions: their records, the
 * instance VMs (with placement and status), every gateway's load report and the instance host ports
 * already claimed. Range reads of a few prefixes, in one pass; a value that cannot be decoded is left
 * out (its own reader reports it).
 */

import {
  decodeFunctionLoad,
  decodeFunctionRecord,
  type FunctionLoad,
  type FunctionRecord,
  parseInstanceName,
} from "../core/function-record.js";
import type { InstanceState, InstanceView } from "../core/function-scaling.js";
import { keys, nameFromKey } from "../core/keys.js";
import { placementCodec, vmStatusCodec } from "../core/store-codecs.js";
import { isServing, type Placement, type VmRecord, type VmStatus } from "../core/vm-record.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import type { Store } from "../ports/store.js";

export interface InstanceInfo extends InstanceView {
  fn: string;
  record: VmRecord;
  modRevision: number;
  /** The node it is placed on; "" while unplaced. */
  node: string;
  /** The host port its forward listens on, on its node's loopback. */
  port: number | undefined;
}

export interface FunctionState {
  records: Map<string, { record: FunctionRecord; modRevision: number }>;
  instances: Map<string, InstanceInfo[]>;
  /** Per function, each node's report. */
  loads: Map<string, FunctionLoad[]>;
  /** Host ports claimed by anything (VM forwards, services), which new instances must not take. */
  takenPorts: Set<number>;
}

/**
 * `ports: false` skips the host port claims (only the pool controller allocates ports), and
 * `skipWhenNone` answers from one range read when there is no function and no instance left, so
 * that a node's gateway costs a cluster without functions one read a second.
 */
export async function readFunctionState(
  store: Store,
  opts: { ports?: boolean; skipWhenNone?: boolean } = {},
): Promise<FunctionState> {
  const fns = await store.range(keys.functionsPrefix);
  if (opts.skipWhenNone && fns.kvs.length === 0) {
    const instances = await store.range(`${keys.vmsPrefix}fn-`, { limit: 1 });
    if (instances.kvs.length === 0) {
      return { records: new Map(), instances: new Map(), loads: new Map(), takenPorts: new Set() };
    }
  }
  const none = { kvs: [] as { key: string; value: string; modRevision: number }[] };
  const [vms, placements, statuses, loads, ports] = await Promise.all([
    store.range(`${keys.vmsPrefix}fn-`),
    store.range(`${keys.placementsPrefix}fn-`),
    store.range(`${keys.statusPrefix}fn-`),
    store.range(keys.functionLoadsPrefix),
    opts.ports === false ? none : store.range(keys.portClaim("tcp", 0).replace(/0$/, "")),
  ]);
  const records: FunctionState["records"] = new Map();
  for (const kv of fns.kvs) {
    const decoded = decodeFunctionRecord(nameFromKey(keys.functionsPrefix, kv.key), kv.value);
    if (decoded.ok) records.set(decoded.value.name, { record: decoded.value, modRevision: kv.modRevision });
  }
  const placementOf = new Map<string, Placement>();
  for (const kv of placements.kvs) {
    const d = placementCodec.decode(kv.value);
    if (d.ok) placementOf.set(nameFromKey(keys.placementsPrefix, kv.key), d.value);
  }
  const statusOf = new Map<string, VmStatus>();
  for (const kv of statuses.kvs) {
    const d = vmStatusCodec.decode(kv.value);
    if (d.ok) statusOf.set(nameFromKey(keys.statusPrefix, kv.key), d.value);
  }
  const instances: FunctionState["instances"] = new Map();
  for (const kv of vms.kvs) {
    const name = nameFromKey(keys.vmsPrefix, kv.key);
    const id = parseInstanceName(name);
    const decoded = decodeVmRecord(name, kv.value);
    if (!id || !decoded.ok) continue;
    const node = placementOf.get(name)?.node ?? "";
    const info: InstanceInfo = {
      name,
      fn: id.fn,
      version: id.version,
      index: id.index,
      state: instanceState(decoded.record, node, statusOf.get(name)),
      createdAt: Date.parse(decoded.record.createdAt) || 0,
      record: decoded.record,
      modRevision: kv.modRevision,
      node,
      port: decoded.record.spec.forwards.find((f) => f.protocol === "tcp")?.host,
    };
    instances.set(id.fn, [...(instances.get(id.fn) ?? []), info]);
  }
  const loadsOf: FunctionState["loads"] = new Map();
  for (const kv of loads.kvs) {
    const fn = kv.key.slice(kv.key.lastIndexOf("/") + 1);
    const d = decodeFunctionLoad(kv.value);
    if (d.ok) loadsOf.set(fn, [...(loadsOf.get(fn) ?? []), d.value]);
  }
  const takenPorts = new Set<number>();
  for (const kv of ports.kvs) takenPorts.add(Number(kv.key.slice(kv.key.lastIndexOf("/") + 1)));
  return { records, instances, loads: loadsOf, takenPorts };
}

/**
 * What an instance is now: ready once its node reports it running and its health check passing
 * (the gateway sends requests only then); failed once it stopped or failed while still wanted.
 */
export function instanceState(record: VmRecord, node: string, status: VmStatus | undefined): InstanceState {
  if (record.deleting) return "deleting";
  if (status === undefined || status.node !== node || node === "") return "starting";
  if (status.phase === "Failed" || status.phase === "Stopped") return "failed";
  if (status.health === "unhealthy") return "failed";
  return isServing(status) && status.health === "healthy" ? "ready" : "starting";
}
