/**
 * The volume half of a VM's create: reads every volume the new VMs name, refuses what cannot be
 * attached (no such volume, not Available, held read-write by another VM, local volumes on two
 * nodes), and returns the claims for the create transaction (state/volume-transactions.ts). The
 * transaction compares each volume's revision, so a claim that raced another one fails there and
 * the create is read again.
 */
import { BlixardError, type FieldViolation } from "../core/errors.js";
import type { VmRecord } from "../core/vm-record.js";
import { attachConflict, type VolumeAttachment } from "../core/volume.js";
import type { Store } from "../ports/store.js";
import { liveAttachments, readVolume } from "../state/volume-reads.js";
import type { StoredVolume } from "../state/volume-transactions.js";

export interface VolumeClaim {
  volume: StoredVolume;
  live: VolumeAttachment[];
  added: VolumeAttachment[];
}

/** The claims `records` make, or INVALID_ARGUMENT / FAILED_PRECONDITION naming the spec field. */
export async function volumeClaims(store: Store, records: readonly VmRecord[]): Promise<VolumeClaim[]> {
  const claims = new Map<string, VolumeClaim>();
  const violations: FieldViolation[] = [];
  let refusal: "INVALID_ARGUMENT" | "FAILED_PRECONDITION" = "FAILED_PRECONDITION";
  for (const record of records) {
    const localNodes = new Set<string>();
    for (const [i, ref] of (record.spec.volumes ?? []).entries()) {
      const field = `spec.volumes.${i}.name`;
      let claim = claims.get(ref.name);
      if (!claim) {
        const read = await readVolume(store, ref.name);
        if (!read?.ok) {
          refusal = "INVALID_ARGUMENT";
          violations.push({
            field,
            message: read
              ? `the record of volume ${ref.name} cannot be read (${read.problem.slice(0, 300)})`
              : `no volume ${ref.name}; create it with: blixard volume create ${ref.name} --size 1G`,
          });
          continue;
        }
        const live = await liveAttachments(store, read.volume);
        claim = { volume: read.volume, live: live.map(({ vm, readOnly }) => ({ vm, readOnly })), added: [] };
        claims.set(ref.name, claim);
      }
      const { record: volume } = claim.volume;
      if (volume.phase !== "Available") {
        violations.push({
          field,
          message: `volume ${ref.name} is ${volume.phase}${volume.message ? ` (${volume.message})` : ""}; it must be Available`,
        });
        continue;
      }
      const conflict = attachConflict(ref.name, ref.readOnly, [...claim.live, ...claim.added]);
      if (conflict) {
        violations.push({ field, message: conflict });
        continue;
      }
      if (volume.backend === "local") localNodes.add(volume.node);
      const pinned = record.spec.placement.node;
      if (volume.backend === "local" && pinned !== undefined && pinned !== volume.node) {
        violations.push({
          field,
          message: `local volume ${ref.name} lives on node ${volume.node}, but spec.placement.node is ${pinned}`,
        });
      }
      claim.added.push({ vm: record.name, readOnly: ref.readOnly });
    }
    if (localNodes.size > 1) {
      violations.push({
        field: "spec.volumes",
        message: `local volumes on different nodes (${[...localNodes].join(", ")}) cannot go to one VM`,
      });
    }
  }
  if (violations.length > 0) {
    const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
    throw new BlixardError(refusal, summary, { violations });
  }
  return [...claims.values()].filter((c) => c.added.length > 0);
}
