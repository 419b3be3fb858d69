/**
 * The one place each multi-key change of a VM is spelled out, so that the API, the agent and the
 * scheduler never disagree on which keys go together: a VM is its record, its status and a claim key
 * per forwarded host port (core/keys.ts), created together and changed together; once placed, its
 * placement and its node's assignment, written together; and all of them deleted together. Pure.
 */
import { keys, portClaimKeys } from "../core/keys.js";
import { placementCodec } from "../core/store-codecs.js";
import type { Placement, VmRecord } from "../core/vm-record.js";
import { encodeAssignment, encodeVmRecord } from "../core/vm-record-codec.js";
import type { Compare, TxnOp } from "../ports/store.js";
import { claimAddressParts, releaseAddressOp } from "./address-pool.js";

/**
 * Creating a VM: its name, every port it forwards and its cluster address (bridge mode) must be free;
 * record and claims together. No
 * status yet: the node that runs it writes the first one (a reader shows Pending until then), so a
 * create costs its watchers one event less.
 */
export function createVmParts(record: VmRecord, event: TxnOp): { compare: Compare[]; success: TxnOp[] } {
  const claims = portClaimKeys(record.spec.forwards);
  const address =
    record.address === undefined
      ? []
      : [
          claimAddressParts(record.address, {
            vm: record.name,
            ...(record.group ? { group: record.group } : {}),
          }),
        ];
  return {
    compare: [
      ...[keys.vm(record.name), ...claims].map((key) => ({
        key,
        target: "createRevision" as const,
        op: "=" as const,
        value: 0,
      })),
      ...address.map((a) => a.compare),
    ],
    success: [
      { type: "put", key: keys.vm(record.name), value: encodeVmRecord(record) },
      ...claims.map((key) => ({ type: "put" as const, key, value: record.name })),
      ...address.map((a) => a.put),
      event,
    ],
  };
}

/**
 * Updating a VM's record (a new spec, a bumped restart nonce): only if the record is still the one read
 * at `modRevision` (else a concurrent change would be lost), and only if every host port it newly
 * forwards is free; the claims of ports it no longer forwards are released in the same transaction.
 */
export function updateVmParts(
  before: { record: VmRecord; modRevision: number },
  after: VmRecord,
  event: TxnOp,
): { compare: Compare[]; success: TxnOp[] } {
  const held = new Set(portClaimKeys(before.record.spec.forwards));
  const wanted = new Set(portClaimKeys(after.spec.forwards));
  const added = [...wanted].filter((key) => !held.has(key));
  const released = [...held].filter((key) => !wanted.has(key));
  const key = keys.vm(after.name);
  return {
    compare: [
      { key, target: "modRevision", op: "=", value: before.modRevision },
      ...added.map((claim) => ({
        key: claim,
        target: "createRevision" as const,
        op: "=" as const,
        value: 0,
      })),
    ],
    success: [
      { type: "put", key, value: encodeVmRecord(after) },
      ...added.map((claim) => ({ type: "put" as const, key: claim, value: after.name })),
      ...released.map((claim) => ({ type: "delete" as const, key: claim })),
      event,
    ],
  };
}

/**
 * Deleting a VM: its record, its status, its port and address claims, its placement and its assignment to `node`
 * (the node it was placed on; "" for none) go, with the event that says why.
 */
export function deleteVmOps(
  record: VmRecord,
  node: string,
  event: TxnOp,
  detached: (volume: string) => TxnOp | undefined = () => undefined,
): TxnOp[] {
  return [
    // The VM's volume claims lapse with its record (state/volume-reads.ts): one event per volume says so.
    ...(record.spec.volumes ?? []).flatMap((v) => detached(v.name) ?? []),
    { type: "delete", key: keys.vm(record.name) },
    { type: "delete", key: keys.status(record.name) },
    ...portClaimKeys(record.spec.forwards).map((key) => ({ type: "delete" as const, key })),
    ...(record.address === undefined ? [] : [releaseAddressOp(record.address)]),
    { type: "delete", key: keys.placement(record.name) },
    ...(node ? [{ type: "delete" as const, key: keys.assignment(node, record.name) }] : []),
    event,
  ];
}

/**
 * Placing a VM (or unplacing it, or copying a changed record to its node): the placement, and the
 * assignment of `record` to the placement's node, written together; an assignment to `previousNode`
 * is deleted when the VM leaves it. `record` is the one at `placement.recordRevision`.
 */
export function placeVmOps(
  record: VmRecord,
  placement: Placement,
  previousNode: string,
  event?: TxnOp,
): TxnOp[] {
  const { name } = record;
  return [
    { type: "put", key: keys.placement(name), value: placementCodec.encode(placement) },
    ...(previousNode && previousNode !== placement.node
      ? [{ type: "delete" as const, key: keys.assignment(previousNode, name) }]
      : []),
    ...(placement.node
      ? [
          {
            type: "put" as const,
            key: keys.assignment(placement.node, name),
            value: encodeAssignment({ record, epoch: placement.epoch }),
          },
        ]
      : []),
    ...(event ? [event] : []),
  ];
}
