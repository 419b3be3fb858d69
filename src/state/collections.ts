/**
 * The kinds of state the store holds, each with its key prefix and the one codec its values are read
 * through (core/vm-record-codec.ts, core/store-codecs.ts). An informer (informer.ts) is made from a
 * collection; so is every reader that lists a prefix, so a key layout or a codec has one home.
 */

import { type AddressHolder, decodeHolder } from "../core/address-holder.js";
import { keys } from "../core/keys.js";
import type { Cordon, NodeRecord } from "../core/node-record.js";
import type { Decoded } from "../core/store-codecs.js";
import { cordonCodec, nodeRecordCodec, placementCodec, vmStatusCodec } from "../core/store-codecs.js";
import type { Assignment, Placement, VmRecord, VmStatus } from "../core/vm-record.js";
import { decodeAssignment, decodeVmRecord } from "../core/vm-record-codec.js";
import { type VolumeRecord, volumeRecordCodec } from "../core/volume.js";
import type { KeyValue } from "../ports/store.js";

export interface Collection<T> {
  readonly kind: string;
  readonly prefix: string;
  decode(name: string, kv: KeyValue): Decoded<T>;
}

export const vmCollection: Collection<VmRecord> = {
  kind: "VM record",
  prefix: keys.vmsPrefix,
  decode(name, kv) {
    const decoded = decodeVmRecord(name, kv.value);
    return decoded.ok ? { ok: true, value: decoded.record } : { ok: false, problem: decoded.problem };
  },
};

export const placementCollection: Collection<Placement> = {
  kind: placementCodec.kind,
  prefix: keys.placementsPrefix,
  decode: (_name, kv) => placementCodec.decode(kv.value),
};

/** The VMs assigned to `node`: what its agent watches, and nothing else of the VMs. */
export function assignmentCollection(node: string): Collection<Assignment> {
  return {
    kind: "assignment",
    prefix: keys.nodeAssignmentsPrefix(node),
    decode(name, kv) {
      const decoded = decodeAssignment(name, kv.value);
      return decoded.ok ? { ok: true, value: decoded.assignment } : decoded;
    },
  };
}

export const statusCollection: Collection<VmStatus> = {
  kind: vmStatusCodec.kind,
  prefix: keys.statusPrefix,
  decode: (_name, kv) => vmStatusCodec.decode(kv.value),
};

export const nodeCollection: Collection<NodeRecord> = {
  kind: nodeRecordCodec.kind,
  prefix: keys.nodesPrefix,
  decode: (_name, kv) => nodeRecordCodec.decode(kv.value),
};

export const cordonCollection: Collection<Cordon> = {
  kind: cordonCodec.kind,
  prefix: keys.cordonPrefix,
  decode: (_name, kv) => cordonCodec.decode(kv.value),
};

/** Cluster address claims (IPAM): who holds each address, named by the address. */
export const addressCollection: Collection<AddressHolder> = {
  kind: "address claim",
  prefix: keys.addressesPrefix,
  decode: (_name, kv) => decodeHolder(kv.value),
};

/** A node's liveness key, bound to its lease: its presence is all it says. */
export const livenessCollection: Collection<true> = {
  kind: "liveness key",
  prefix: keys.alivePrefix,
  decode: () => ({ ok: true, value: true }),
};

/** Volume records (core/volume.ts), named by the volume. */
export const volumeCollection: Collection<VolumeRecord> = {
  kind: volumeRecordCodec.kind,
  prefix: keys.volumesPrefix,
  decode: (_name, kv) => volumeRecordCodec.decode(kv.value),
};
