/**
 * One codec per kind of value the store holds beside VM records and assignments (vm-record-codec.ts):
 * statuses, placements, node records, cordons and events. Every reader decodes through these instead
 * of casting `JSON.parse`'s result, so a value no Blixard writer could have written (an `etcdctl put`,
 * a hand-edited store, a newer or buggy writer) is reported and skipped, never read as a half-valid object. Decoding never
 * throws. The schemas are checked against the TypeScript types at compile time (`satisfies`).
 * Unknown fields are kept out (stripped) rather than refused: older nodes must read what newer ones
 * add, as they did before.
 */
import { z } from "zod";
import { EVENT_TYPES, type VmEvent } from "./events.js";
import type { Cordon, NodeRecord } from "./node-record.js";
import { HEALTH_STATES, PHASES, type Placement, type VmStatus } from "./vm-record.js";

/**
 * The largest value any of these may be, as for VM records (a request is at most 1 MiB). Free text
 * (a status message, an event's reason: an unschedulable VM's reasons name every node) is bounded
 * by this alone, so that nothing a writer may write is refused on read.
 */
export const MAX_STORE_VALUE_BYTES = 2 * 1024 * 1024;

export type Decoded<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface Codec<T> {
  /** What the values are, for messages: "VM status", "node record", ... */
  readonly kind: string;
  decode(value: string): Decoded<T>;
  encode(value: T): string;
}

const text = (max: number) => z.string().max(max);
const timestamp = text(64);
const count = z.int().min(0);

const exitSchema = z.object({
  code: z.int().nullable(),
  signal: text(32).nullable(),
  known: z.boolean(),
  at: timestamp,
});

const vmStatusSchema = z.object({
  phase: z.enum(PHASES),
  node: text(253),
  pid: z.int().min(1).nullable(),
  restarts: count,
  consecutiveFailures: count,
  health: z.enum(HEALTH_STATES),
  message: z.string(),
  startedAt: timestamp.nullable(),
  readyAt: timestamp.nullable(),
  lastExit: exitSchema.nullable(),
  nextRestartAt: z.number().nullable(),
  appliedRestartNonce: count,
  consoleOffset: count,
  updatedAt: timestamp,
}) satisfies z.ZodType<VmStatus>;

const nodeRecordSchema = z.object({
  id: text(253),
  apiUrl: text(2048),
  labels: z.record(text(253), text(253)),
  capacity: z.object({
    vcpus: count,
    memoryMiB: count,
    drivers: z.array(text(64)).max(16),
    networks: z.array(text(16)).max(8).optional(),
    volumeBytes: count.optional(),
  }),
  overlay: z.object({ vtep: text(64), bridgeAddress: text(64) }).optional(),
  allowance: z
    .object({
      reserved: z.object({ vcpus: z.number().min(0), memoryMiB: z.number().min(0) }),
      overcommit: z.object({ cpu: z.number().positive(), memory: z.number().positive() }),
    })
    .optional(),
  startedAt: timestamp,
  isolation: text(4096).optional(),
  ceph: z.object({ reachable: z.boolean(), reason: text(4096).optional(), pool: text(128) }).optional(),
}) satisfies z.ZodType<NodeRecord>;

const placementSchema = z.object({
  node: text(253),
  epoch: count,
  unschedulable: z.string().optional(),
  handoffFrom: text(253).optional(),
  recordRevision: count,
  resources: z.object({ vcpus: count, memoryMiB: count }).optional(),
}) satisfies z.ZodType<Placement>;

const cordonSchema = z.object({ draining: z.boolean(), at: timestamp }) satisfies z.ZodType<Cordon>;

const vmEventSchema = z.object({
  at: timestamp,
  type: z.enum(EVENT_TYPES),
  vm: text(253),
  node: text(253),
  reason: z.string(),
  actor: text(253).optional(),
}) satisfies z.ZodType<VmEvent>;

function codec<T>(kind: string, schema: z.ZodType<T>): Codec<T> {
  return {
    kind,
    decode(value: string): Decoded<T> {
      if (value.length > MAX_STORE_VALUE_BYTES)
        return { ok: false, problem: `${kind} is ${value.length} bytes` };
      let raw: unknown;
      try {
        raw = JSON.parse(value);
      } catch {
        return { ok: false, problem: `${kind} is not JSON` };
      }
      const parsed = schema.safeParse(raw);
      if (parsed.success) return { ok: true, value: parsed.data };
      const issue = parsed.error.issues[0];
      const path = issue?.path.length ? issue.path.join(".") : "value";
      return { ok: false, problem: `${kind}: ${path}: ${issue?.message ?? "invalid"}` };
    },
    encode: (value: T) => JSON.stringify(value),
  };
}

export const vmStatusCodec: Codec<VmStatus> = codec("VM status", vmStatusSchema);
export const nodeRecordCodec: Codec<NodeRecord> = codec("node record", nodeRecordSchema);
export const placementCodec: Codec<Placement> = codec("placement", placementSchema);
export const cordonCodec: Codec<Cordon> = codec("cordon", cordonSchema);
export const vmEventCodec: Codec<VmEvent> = codec("event", vmEventSchema);

/**
 * Decodes each value, keeping the valid ones in order and telling `onInvalid` (key and problem)
 * about the rest. Pure.
 */
export function decodeAll<T>(
  codec: Codec<T>,
  kvs: readonly { key: string; value: string }[],
  onInvalid: (key: string, problem: string) => void,
): { key: string; value: T }[] {
  const out: { key: string; value: T }[] = [];
  for (const kv of kvs) {
    const decoded = codec.decode(kv.value);
    if (decoded.ok) out.push({ key: kv.key, value: decoded.value });
    else onInvalid(kv.key, decoded.problem);
  }
  return out;
}
