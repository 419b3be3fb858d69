/**
 * The one place each multi-key change of a VM is spelled out, so that the API, the agent and the
 * scheduler never disagree on which keys go together: a VM is its record, its status and a claim key
 * per forwarded host port (core/keys.ts), created together, changed together and deleted together. Pure.
 */
import { keys, portClaimKeys } from "../core/keys.js";
import type { VmRecord, VmStatus } from "../core/vm-record.js";
import { encodeVmRecord } from "../core/vm-record-codec.js";
import type { Compare, TxnOp } from "../ports/store.js";

/** Creating a VM: its name and every port it forwards must be free; record, status and claims together. */
export function createVmParts(
  record: VmRecord,
  status: VmStatus,
  event: TxnOp,
): { compare: Compare[]; success: TxnOp[] } {
  const claims = portClaimKeys(record.spec.forwards);
  return {
    compare: [keys.vm(record.name), ...claims].map((key) => ({
      key,
      target: "createRevision",
      op: "=",
      value: 0,
    })),
    success: [
      { type: "put", key: keys.vm(record.name), value: encodeVmRecord(record) },
      { type: "put", key: keys.status(record.name), value: JSON.stringify(status) },
      ...claims.map((key) => ({ type: "put" as const, key, value: record.name })),
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

/** Deleting a VM: its record, its status and its port claims go, with the event that says why. */
export function deleteVmOps(record: VmRecord, event: TxnOp): TxnOp[] {
  return [
    { type: "delete", key: keys.vm(record.name) },
    { type: "delete", key: keys.status(record.name) },
    ...portClaimKeys(record.spec.forwards).map((key) => ({ type: "delete" as const, key })),
    event,
  ];
}
