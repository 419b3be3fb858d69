/**
 * The one place each change of a volume's record is spelled out as a transaction: its create (the
 * name must be free), every later change (a compare-and-swap on the revision read, so two writers
 * never lose each other's change), its removal, and a VM's claim on it, which goes into the VM's
 * create transaction (api/vm-repository.ts): the claim rewrites the volume's record at the revision
 * its live claims were read at, so of two creates that claim one read-write volume exactly one
 * commits. Pure.
 */
import { keys } from "../core/keys.js";
import { type VolumeAttachment, type VolumeRecord, volumeRecordCodec } from "../core/volume.js";
import type { Compare, KeyValue, TxnOp } from "../ports/store.js";

export interface StoredVolume {
  record: VolumeRecord;
  kv: KeyValue;
}

type Parts = { compare: Compare[]; success: TxnOp[] };

/** Creating a volume: only while no volume of that name exists. */
export function createVolumeParts(record: VolumeRecord, events: TxnOp[]): Parts {
  const key = keys.volume(record.name);
  return {
    compare: [{ key, target: "createRevision", op: "=", value: 0 }],
    success: [{ type: "put", key, value: volumeRecordCodec.encode(record) }, ...events],
  };
}

/** Any later change of the record (phase, snapshots, claims): only if it is still the one read. */
export function updateVolumeParts(before: StoredVolume, after: VolumeRecord, events: TxnOp[]): Parts {
  return {
    compare: [{ key: before.kv.key, target: "modRevision", op: "=", value: before.kv.modRevision }],
    success: [{ type: "put", key: before.kv.key, value: volumeRecordCodec.encode(after) }, ...events],
  };
}

/** Removing the record once its bytes are gone: only if nothing changed it meanwhile. */
export function removeVolumeParts(before: StoredVolume, events: TxnOp[]): Parts {
  return {
    compare: [{ key: before.kv.key, target: "modRevision", op: "=", value: before.kv.modRevision }],
    success: [{ type: "delete", key: before.kv.key }, ...events],
  };
}

/**
 * A VM's claims on volumes, for its create transaction: each volume's record rewritten with the
 * claims that are still live (`live`, read with it) plus the new ones, at the revision it was read.
 * Lapsed claims (their VM is gone) are dropped on the way. `claims` may hold several VMs' claims on
 * one volume (read-only ones of a replica group).
 */
export function claimVolumesParts(
  claims: readonly { volume: StoredVolume; live: readonly VolumeAttachment[]; added: VolumeAttachment[] }[],
): Parts {
  const parts: Parts = { compare: [], success: [] };
  for (const { volume, live, added } of claims) {
    const next: VolumeRecord = { ...volume.record, attachments: [...live, ...added] };
    const one = updateVolumeParts(volume, next, []);
    parts.compare.push(...one.compare);
    parts.success.push(...one.success);
  }
  return parts;
}
