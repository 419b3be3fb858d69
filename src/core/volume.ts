/**
 * Volumes as cluster objects: a named disk whose life is independent of any VM. Its record lives in
 * the store (keys.volume), read through the one codec below. The record's `phase` is the lifecycle
 * the node that holds the bytes drives (Creating → Available, Deleting → gone); who holds the volume
 * now is its `attachments`, claims written in the create transaction of each VM that names it. A
 * claim lapses when its VM's record is gone (the agent deletes the record only after qemu stopped),
 * so no write is needed to detach, and a VM's delete never has to read the volumes. Pure.
 */
import { z } from "zod";
import { nameProblem } from "./names.js";
import type { Codec, Decoded } from "./store-codecs.js";

export const VOLUME_BACKEND_NAMES = ["local", "rbd"] as const;
export const VOLUME_PHASES = ["Creating", "Available", "Failed", "Deleting"] as const;
export type VolumePhase = (typeof VOLUME_PHASES)[number];

export interface VolumeAttachment {
  vm: string;
  readOnly: boolean;
}

export interface VolumeSnapshot {
  name: string;
  /** False until the volume's node has taken it. */
  ready: boolean;
  createdAt: string;
}

export interface VolumeRecord {
  name: string;
  /** The backend's name for the bytes, derived at create from random hex: never a user string. */
  id: string;
  backend: (typeof VOLUME_BACKEND_NAMES)[number];
  pool?: string;
  sizeBytes: number;
  /** The node whose agent creates, snapshots and removes the bytes; for `local`, where they live. */
  node: string;
  phase: VolumePhase;
  /** Why the volume is Failed (or what its node is doing). */
  message: string;
  /** Where the bytes start from: a host image (admin only) or a snapshot of another volume. */
  from?: { image: string } | { volume: string; id: string; snapshot: string };
  attachments: VolumeAttachment[];
  snapshots: VolumeSnapshot[];
  createdAt: string;
}

/** What `volume get` shows: the phase, or Attached with the VMs that hold it (and their nodes). */
export interface VolumeView extends VolumeRecord {
  state: string;
}

/** Volume ids are file and image names: lowercase hex, with a fixed prefix, nothing else. */
export const VOLUME_ID_PATTERN = /^vol-[0-9a-f]{16,64}$/;
/** Snapshot names are passed to qemu-img and rbd as arguments: a DNS label, never an option. */
const snapshotName = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const dnsName = snapshotName;

/** The largest volume: 16 TiB (qcow2 and rbd go further; a typo of units should not). */
export const MAX_VOLUME_BYTES = 16 * 1024 ** 4;
export const MIN_VOLUME_BYTES = 1024 ** 2;

const volumeRecordSchema = z.object({
  name: dnsName,
  id: z.string().regex(VOLUME_ID_PATTERN, "must be vol- and hex"),
  backend: z.enum(VOLUME_BACKEND_NAMES),
  pool: dnsName.optional(),
  sizeBytes: z.int().min(MIN_VOLUME_BYTES).max(MAX_VOLUME_BYTES),
  node: z.string().max(253),
  phase: z.enum(VOLUME_PHASES),
  message: z.string().max(4096),
  from: z
    .union([
      z.object({ image: z.string().max(4096) }),
      z.object({
        volume: dnsName,
        id: z.string().regex(VOLUME_ID_PATTERN),
        snapshot: snapshotName,
      }),
    ])
    .optional(),
  attachments: z.array(z.object({ vm: dnsName, readOnly: z.boolean() })).max(4096),
  snapshots: z
    .array(z.object({ name: snapshotName, ready: z.boolean(), createdAt: z.string().max(64) }))
    .max(256),
  createdAt: z.string().max(64),
}) satisfies z.ZodType<VolumeRecord>;

export const volumeRecordCodec: Codec<VolumeRecord> = {
  kind: "volume record",
  decode(value: string): Decoded<VolumeRecord> {
    if (value.length > 1024 * 1024) return { ok: false, problem: `volume record is ${value.length} bytes` };
    let raw: unknown;
    try {
      raw = JSON.parse(value);
    } catch {
      return { ok: false, problem: "volume record is not JSON" };
    }
    const parsed = volumeRecordSchema.safeParse(raw);
    if (parsed.success) return { ok: true, value: parsed.data as VolumeRecord };
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? issue.path.join(".") : "value";
    return { ok: false, problem: `volume record: ${path}: ${issue?.message ?? "invalid"}` };
  },
  encode: (value) => JSON.stringify(value),
};

/** A snapshot name is valid when it is a DNS label (it reaches qemu-img's argv). */
export function snapshotNameProblem(name: string): string | undefined {
  return nameProblem(name);
}

const UNITS: Record<string, number> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/** Parses `1G`, `512M`, `1GiB` or a byte count; undefined when it is none of these. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*([KMGT]?)(i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toUpperCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(m[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** What the volume's state is for a reader: Attached (to whom) while a live VM holds it. */
export function volumeState(
  record: VolumeRecord,
  live: readonly { vm: string; readOnly: boolean; node: string }[],
): string {
  if (record.phase !== "Available" || live.length === 0) {
    return record.phase === "Failed" && record.message ? `Failed: ${record.message}` : record.phase;
  }
  const holders = live.map((a) => `${a.vm}${a.readOnly ? " (ro)" : ""} on ${a.node || "no node yet"}`);
  return `Attached to ${holders.join(", ")}`;
}

/**
 * Why `vm` may not attach the volume (rw or ro) while the VMs in `live` hold it, or undefined. A
 * read-write attach excludes every other; read-only attaches share.
 */
export function attachConflict(
  volume: string,
  readOnly: boolean,
  live: readonly VolumeAttachment[],
): string | undefined {
  const writer = live.find((a) => !a.readOnly);
  if (writer) return `volume ${volume} is attached read-write to VM ${writer.vm}; delete that VM first`;
  if (!readOnly && live.length > 0) {
    const names = live.map((a) => a.vm).join(", ");
    return `volume ${volume} is attached read-only to VM ${names}; attach it with :ro, or delete those VMs first`;
  }
  return undefined;
}
