/**
 * Changing a VM's spec after create (`vm update`, `apply -f`): which fields differ, which of them the
 * VM picks up only by restarting, and which cannot change in place at all. Pure, so that the API, the
 * CLI's dry run and the tests agree on one table (documented in docs/cli.md).
 */
import { BlixardError, type FieldViolation } from "./errors.js";
import type { Resources } from "./placement-types.js";
import type { VmSpec } from "./vm-spec.js";

/**
 * - `live`: the agent reads the field from the current record whenever it needs it;
 * - `restart`: the running process was built from it (qemu arguments, the health monitor), so the
 *   VM restarts to apply it;
 * - `immutable`: changing it in place would lose or move the guest's state; delete and recreate.
 */
export type UpdateRule = "live" | "restart" | "immutable";

export const SPEC_UPDATE_RULES: Readonly<Record<keyof VmSpec, UpdateRule>> = {
  name: "immutable",
  vcpus: "restart",
  memory: "restart",
  driver: "immutable",
  kernel: "restart",
  initrd: "restart",
  disk: "immutable",
  cmdline: "restart",
  forwards: "restart",
  network: "immutable",
  healthCheck: "restart",
  restartPolicy: "live",
  restartBackoff: "live",
  placement: "immutable",
  microvm: "restart",
  volumes: "immutable",
};

/** Why each immutable field cannot change in place; the error adds how to get there. */
const IMMUTABLE_WHY: Readonly<Record<string, string>> = {
  name: "the name is the VM's identity",
  driver: "the VM's state directory and process belong to its driver",
  disk: "the VM's copy-on-write overlay holds the guest's writes on top of this image",
  volumes: "a VM claims its volumes when it is created, and lets them go when it is deleted",
  placement: "the scheduler places a VM once and does not move it on update",
};

/** One changed field: its dotted path and the values on each side (undefined when unset). */
export interface SpecChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface SpecUpdatePlan {
  changes: SpecChange[];
  /** Some change takes effect only once the VM restarts. */
  restart: boolean;
}

/**
 * The changes from `before` to `after`, in the spec's field order. Objects are compared field by field;
 * arrays (forwards, constraints, modules...) as one value, since their items have no stable identity.
 */
export function specChanges(before: VmSpec, after: VmSpec): SpecChange[] {
  const out: SpecChange[] = [];
  diff(before, after, "", out);
  return out;
}

function diff(a: unknown, b: unknown, path: string, out: SpecChange[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    const fields = [...Object.keys(a), ...Object.keys(b).filter((k) => !(k in a))];
    for (const key of fields) diff(a[key], b[key], path === "" ? key : `${path}.${key}`, out);
    return;
  }
  if (!sameValue(a, b)) out.push({ path, before: a, after: b });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameValue(a[k], b[k]));
  }
  return false;
}

/**
 * What updating `before` to `after` means: the changes and whether the VM must restart. Throws
 * INVALID_ARGUMENT naming every immutable field that changed, and how to change it anyway.
 */
export function planSpecUpdate(before: VmSpec, after: VmSpec): SpecUpdatePlan {
  const changes = specChanges(before, after);
  const violations: FieldViolation[] = [];
  const refused = new Set<string>();
  for (const change of changes) {
    const field = topField(change.path);
    if (SPEC_UPDATE_RULES[field] !== "immutable" || refused.has(field)) continue;
    refused.add(field);
    violations.push({
      field: `spec.${field}`,
      message: `cannot change in place (${IMMUTABLE_WHY[field]}); to change it, delete the VM and create it again: blixard vm delete ${before.name} && blixard vm create ${before.name} ...`,
    });
  }
  if (violations.length > 0) {
    const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
    throw new BlixardError("INVALID_ARGUMENT", `invalid update: ${summary}`, { violations });
  }
  return {
    changes,
    restart: changes.some((c) => SPEC_UPDATE_RULES[topField(c.path)] === "restart"),
  };
}

function topField(path: string): keyof VmSpec {
  return path.split(".")[0] as keyof VmSpec;
}

/**
 * Why the VM, grown from `before` to `after`, no longer fits `node`, or undefined when it does (or did
 * not grow). `free` is what the node can still hand out with this VM's current share given back.
 * Only the dimensions that grow are checked: shrinking is always allowed, even on a full node.
 */
export function growthProblem(
  node: string,
  free: Resources,
  before: VmSpec,
  after: VmSpec,
): FieldViolation[] {
  const out: FieldViolation[] = [];
  const advice =
    "ask for less, or delete the VM and create it again so that the scheduler places it where it fits (`blixard node list` shows free capacity)";
  if (after.memory > before.memory && after.memory > free.memoryMiB) {
    out.push({
      field: "spec.memory",
      message: `${after.memory} MiB does not fit node ${node}, which has ${Math.max(0, free.memoryMiB)} MiB for this VM; ${advice}`,
    });
  }
  if (after.vcpus > before.vcpus && after.vcpus > free.vcpus) {
    out.push({
      field: "spec.vcpus",
      message: `${after.vcpus} vCPUs do not fit node ${node}, which has ${Math.max(0, free.vcpus)} for this VM; ${advice}`,
    });
  }
  return out;
}
