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
import type { VmRecord } from "./vm-record.js";
import { toViolations, vmSpecSchema } from "./vm-spec.js";

/** A node id or VM name as the store keys use them; "" where the record allows "not yet". */
const name = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const optionalNode = z.union([z.literal(""), name]);

const vmRecordSchema = z.strictObject({
  name,
  spec: vmSpecSchema,
  desiredState: z.enum(["running", "stopped"]),
  node: optionalNode,
  epoch: z.int().min(0).optional(),
  unschedulable: z
    .string()
    .max(1024 * 1024)
    .optional(),
  handoffFrom: name.optional(),
  group: name.optional(),
  restartNonce: z.int().min(0),
  deleting: z.boolean(),
  createdAt: z.string().max(64),
});

/** Bytes of a record's JSON beyond which it is refused unread (a request is at most 1 MiB anyway). */
export const MAX_VM_RECORD_BYTES = 2 * 1024 * 1024;

export type DecodedVmRecord =
  | { ok: true; record: VmRecord }
  /** `node` is the record's own `node` field when it has a string one: whose problem it is to report. */
  | { ok: false; name: string; node: string | undefined; problem: string };

/** Decodes the record stored under `keyName` (the VM name its key carries). */
export function decodeVmRecord(keyName: string, value: string): DecodedVmRecord {
  const refuse = (node: string | undefined, problem: string): DecodedVmRecord => ({
    ok: false,
    name: keyName,
    node,
    problem,
  });
  if (value.length > MAX_VM_RECORD_BYTES) return refuse(undefined, `record is ${value.length} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return refuse(undefined, "record is not JSON");
  }
  const node =
    raw && typeof raw === "object" && typeof (raw as { node?: unknown }).node === "string"
      ? (raw as { node: string }).node
      : undefined;
  const result = vmRecordSchema.safeParse(raw);
  if (!result.success) {
    const problems = toViolations(result.error).map((v) => `${v.field}: ${v.message}`);
    return refuse(node, problems.join("; "));
  }
  const record = result.data as VmRecord;
  if (record.name !== keyName) return refuse(node, `name: "${record.name}" is stored under key "${keyName}"`);
  if (record.spec.name !== record.name) {
    return refuse(node, `spec.name: "${record.spec.name}" differs from the record's name "${record.name}"`);
  }
  return { ok: true, record };
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
