/**
 * The one codec for VM records in the store. The API encodes through it and the agent and the
 * scheduler decode through it, with the same spec schema the API admits requests with: a record that
 * a valid API call could not have written (an `etcdctl put` by whoever reached etcd, a hand-edited
 * store, a record from a buggy or newer writer) is refused, never acted on. Decoding never throws: it
 * says what is wrong, and the caller reports it.
 */
import { z } from "zod";
import { BlixardError } from "./errors.js";
import { nameProblem } from "./names.js";
import { ipv4Bytes } from "./vm-network.js";
import type { Assignment, VmRecord } from "./vm-record.js";
import { toViolations, vmSpecSchema } from "./vm-spec.js";

/** A node id or VM name as the store keys use them; "" where the record allows "not yet". */
const name = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const vmRecordSchema = z
  .strictObject({
    name,
    spec: vmSpecSchema,
    desiredState: z.enum(["running", "stopped"]),
    address: z
      .string()
      .refine((a) => ipv4Bytes(a) !== undefined, "must be a dotted-quad IPv4 address")
      .optional(),
    group: name.optional(),
    restartNonce: z.int().min(0),
    deleting: z.boolean(),
    createdAt: z.string().max(64),
    volumeNode: z.strictObject({ volume: name, node: name }).optional(),
  })
  .refine((r) => (r.spec.network === "bridge") === (r.address !== undefined), {
    path: ["address"],
    message: "a VM has a cluster address exactly when its spec.network is bridge",
  });

/** Bytes of a record's JSON beyond which it is refused unread (a request is at most 1 MiB anyway). */
export const MAX_VM_RECORD_BYTES = 2 * 1024 * 1024;

export type DecodedVmRecord = { ok: true; record: VmRecord } | { ok: false; name: string; problem: string };

/** Decodes the record stored under `keyName` (the VM name its key carries). */
export function decodeVmRecord(keyName: string, value: string): DecodedVmRecord {
  const raw = parseBounded(value);
  if (typeof raw === "string") return { ok: false, name: keyName, problem: raw };
  const problem = recordProblem(keyName, vmRecordSchema.safeParse(raw));
  return typeof problem === "string" ? { ok: false, name: keyName, problem } : { ok: true, record: problem };
}

export type DecodedAssignment = { ok: true; assignment: Assignment } | { ok: false; problem: string };

const assignmentSchema = z.strictObject({ record: vmRecordSchema, epoch: z.int().min(0) });

/**
 * Decodes a node's assignment of the VM `keyName`: the record it copies is held to the same rules as
 * the record itself, for the agent acts on the copy.
 */
export function decodeAssignment(keyName: string, value: string): DecodedAssignment {
  const raw = parseBounded(value);
  if (typeof raw === "string") return { ok: false, problem: raw };
  const parsed = assignmentSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: violations(parsed.error) };
  const record = recordProblem(keyName, { success: true, data: parsed.data.record });
  if (typeof record === "string") return { ok: false, problem: record };
  return { ok: true, assignment: { record, epoch: parsed.data.epoch } };
}

/** Encodes an assignment, refusing (INTERNAL: a bug) one the decoder would refuse. */
export function encodeAssignment(assignment: Assignment): string {
  const value = JSON.stringify(assignment);
  const decoded = decodeAssignment(assignment.record.name, value);
  if (!decoded.ok) {
    throw new BlixardError(
      "INTERNAL",
      `refusing to store an invalid assignment for VM ${assignment.record.name}: ${decoded.problem}`,
    );
  }
  return value;
}

/** The JSON value, or what is wrong with it. */
function parseBounded(value: string): unknown {
  if (value.length > MAX_VM_RECORD_BYTES) return `record is ${value.length} bytes`;
  try {
    return JSON.parse(value);
  } catch {
    return "record is not JSON";
  }
}

function violations(error: z.ZodError): string {
  return toViolations(error)
    .map((v) => `${v.field}: ${v.message}`)
    .join("; ");
}

/** The record, or what is wrong with it: its schema, or a name that differs from its key's. */
function recordProblem(
  keyName: string,
  result: { success: true; data: unknown } | { success: false; error: z.ZodError },
): VmRecord | string {
  if (!result.success) return violations(result.error);
  const record = result.data as VmRecord;
  if (record.name !== keyName) return `name: "${record.name}" is stored under key "${keyName}"`;
  if (record.spec.name !== record.name) {
    return `spec.name: "${record.spec.name}" differs from the record's name "${record.name}"`;
  }
  return record;
}

/** Encodes a record for the store, refusing (INTERNAL: a bug, not user input) one the decoder would refuse. */
export function encodeVmRecord(record: VmRecord): string {
  const value = JSON.stringify(record);
  const decoded = decodeVmRecord(record.name, value);
  if (!decoded.ok) {
    throw new BlixardError(
      "INTERNAL",
      `refusing to store an invalid record for VM ${record.name}: ${decoded.problem}`,
    );
  }
  return value;
}
