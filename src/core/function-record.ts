/**
 * Functions in the store: the record under keys.function(name) (the current version's spec and the
 * history of deploys), the load each node's gateway reports under keys.functionLoad(node, name), and
 * the names of the instance VMs a function owns. One codec per value; a value no Blixard writer could
 * have written is reported, never half-read.
 */
import { z } from "zod";
import { type FunctionSpec, functionSpecSchema } from "./function-spec.js";
import type { Decoded } from "./store-codecs.js";

/** Deploys remembered in a record's history (the newest ones). */
export const FUNCTION_HISTORY = 20;

export interface FunctionVersion {
  version: number;
  deployedAt: string;
  actor?: string;
}

export interface FunctionRecord {
  name: string;
  /** Bumped by every deploy; instances of older versions drain and stop. */
  version: number;
  spec: FunctionSpec;
  createdAt: string;
  history: FunctionVersion[];
}

/**
 * What one node's gateway reports for one function: requests in flight per instance (what the pool
 * controller scales on and drains by), requests held waiting for an instance, and when the last
 * request ended (what idleTimeout counts from). Bound to the node's lease, so a dead node's load
 * vanishes with it.
 */
export interface FunctionLoad {
  /** Per instance VM: requests in flight, and when its last request started or ended (epoch ms). */
  instances: Record<string, InstanceLoad>;
  /** Requests this gateway holds until an instance of the current version is ready. */
  waiting: number;
}

export interface InstanceLoad {
  inFlight: number;
  lastActiveAt: number;
}

const recordSchema = z.object({
  name: z.string().max(64),
  version: z.int().min(1),
  spec: functionSpecSchema,
  createdAt: z.string().max(64),
  history: z
    .array(
      z.object({
        version: z.int().min(1),
        deployedAt: z.string().max(64),
        actor: z.string().max(253).optional(),
      }),
    )
    .max(FUNCTION_HISTORY),
}) satisfies z.ZodType<FunctionRecord, unknown>;

const loadSchema = z.object({
  instances: z.record(
    z.string().max(63),
    z.object({ inFlight: z.int().min(0), lastActiveAt: z.number().min(0) }),
  ),
  waiting: z.int().min(0),
}) satisfies z.ZodType<FunctionLoad>;

function decodeJson<T>(kind: string, schema: z.ZodType<T, unknown>, value: string): Decoded<T> {
  if (value.length > 1024 * 1024) return { ok: false, problem: `${kind} is ${value.length} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, problem: `${kind} is not JSON` };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problem = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
  return { ok: false, problem: `${kind}: ${problem.slice(0, 3).join("; ")}` };
}

export function encodeFunctionRecord(record: FunctionRecord): string {
  return JSON.stringify(record);
}

/** The record stored under the function `name`; its own names must be that key's. */
export function decodeFunctionRecord(name: string, value: string): Decoded<FunctionRecord> {
  const result = decodeJson("function record", recordSchema, value);
  if (!result.ok) return result;
  if (result.value.name !== name || result.value.spec.name !== name) {
    return { ok: false, problem: `names function "${result.value.name}" under the key of "${name}"` };
  }
  return result;
}

export function encodeFunctionLoad(load: FunctionLoad): string {
  return JSON.stringify(load);
}

export function decodeFunctionLoad(value: string): Decoded<FunctionLoad> {
  return decodeJson("function load", loadSchema, value);
}

/** Every VM a function owns is named so: recognisable in `vm list`, and refused to user writes. */
export const INSTANCE_PREFIX = "fn-";

export function instanceName(fn: string, version: number, index: number): string {
  return `${INSTANCE_PREFIX}${fn}-${version}-${index}`;
}

export interface InstanceId {
  fn: string;
  version: number;
  index: number;
}

/** The function, version and index an instance name encodes; undefined for any other VM. */
export function parseInstanceName(vm: string): InstanceId | undefined {
  const m = /^fn-([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)-([1-9][0-9]{0,8})-([0-9]{1,4})$/.exec(vm);
  if (!m) return undefined;
  return { fn: m[1]!, version: Number(m[2]), index: Number(m[3]) };
}

/** Whether a VM name is reserved for function instances (user creates and changes are refused). */
export function isInstanceName(vm: string): boolean {
  return vm.startsWith(INSTANCE_PREFIX);
}
