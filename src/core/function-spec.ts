/**
 * The function spec: an HTTP handler served by a pool of microVMs (docs/functions.md). Parsed once at
 * the edge (API, CLI) with zod, strictly: an unknown field is a mistake worth naming. Everything the
 * pool controller and the gateways do trusts the parsed, defaulted value.
 */
import { z } from "zod";
import { BlixardError } from "./errors.js";
import { nameProblem } from "./names.js";
import { parseConstraint } from "./placement.js";
import { toViolations } from "./vm-spec.js";

/**
 * Instances are VMs named `fn-<name>-<version>-<n>`, which must stay a DNS label (63 characters):
 * 3 + 40 + 1 + up to 9 digits + 1 + up to 3 digits leaves room for a billion deploys of 1000 instances.
 */
export const FUNCTION_NAME_MAX = 40;
export const MAX_INSTANCES_LIMIT = 1000;

const fnName = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
  else if (value.length > FUNCTION_NAME_MAX) {
    ctx.addIssue({
      code: "custom",
      message: `must be at most ${FUNCTION_NAME_MAX} characters: instance names add a version and an index`,
    });
  }
});

/** Host paths are absolute and normalised so that they say exactly what they mean (as a VM's). */
const hostPath = z
  .string()
  .min(1, "must not be empty")
  .max(4096)
  .refine((p) => p.startsWith("/"), "must be an absolute path (the CLI resolves relative paths for you)")
  .refine((p) => !p.includes("\0"), "must not contain NUL bytes")
  .refine(
    (p) => !p.split("/").some((seg) => seg === ".." || seg === "."),
    "must not contain '.' or '..' segments",
  );

/** Environment names as a shell would accept them; the guest reads `fn.env.NAME=VALUE` words. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/**
 * A value is one kernel command-line word: no spaces, quotes or control characters, which would split
 * it into (or inject) other parameters such as `init=`.
 */
const ENV_VALUE = /^[\x21\x23-\x26\x28-\x7e]{0,256}$/;

const env = z
  .record(z.string(), z.string())
  .default({})
  .superRefine((vars, ctx) => {
    const entries = Object.entries(vars);
    if (entries.length > 32) ctx.addIssue({ code: "custom", message: "at most 32 variables" });
    for (const [k, v] of entries) {
      if (!ENV_NAME.test(k)) {
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: "names are letters, digits and '_', not starting with a digit",
        });
      } else if (!ENV_VALUE.test(v)) {
        ctx.addIssue({
          code: "custom",
          path: [k],
          message:
            "values are at most 256 printable characters without spaces or quotes (they go on the kernel command line)",
        });
      }
    }
  });

export const functionSpecSchema = z
  .strictObject({
    name: fnName,
    /** The guest image; the node's default image when no kernel is given. */
    kernel: hostPath.optional(),
    initrd: hostPath.optional(),
    disk: hostPath.optional(),
    /** The guest port the function's HTTP server listens on. */
    port: z
      .int("must be a whole number")
      .min(1, "must be 1 to 65535")
      .max(65535, "must be 1 to 65535")
      .default(80),
    memory: z
      .int("must be a whole number")
      .min(32, "must be at least 32 (MiB)")
      .max(64 * 1024)
      .default(256),
    vcpus: z.int("must be a whole number").min(1).max(64).default(1),
    minInstances: z
      .int("must be a whole number")
      .min(0, "must be 0 or more")
      .max(MAX_INSTANCES_LIMIT)
      .default(0),
    maxInstances: z
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(MAX_INSTANCES_LIMIT)
      .default(10),
    /** Requests one instance serves at once before the pool grows. */
    concurrency: z.int("must be a whole number").min(1, "must be at least 1").max(10_000).default(4),
    /** Seconds without a request after which surplus instances (down to minInstances) stop. */
    idleTimeout: z.int("must be a whole number").min(1, "must be at least 1 second").max(86_400).default(300),
    env,
    /** Extra kernel command-line words for the guest (e.g. `blixard.probe=1`). */
    cmdline: z
      .string()
      .max(1024)
      .refine((s) => !/[\n\r\0]/.test(s), "must be a single line")
      .default(""),
    /** Node label constraints for the instances, as for VMs (`zone=eu-1`, `gpu!=none`). */
    constraints: z
      .array(
        z
          .string()
          .max(256)
          .refine((c) => parseConstraint(c) !== undefined, "must be KEY=VALUE or KEY!=VALUE on a node label"),
      )
      .max(32)
      .default([]),
  })
  .superRefine((spec, ctx) => {
    if (spec.maxInstances < spec.minInstances) {
      ctx.addIssue({
        code: "custom",
        path: ["maxInstances"],
        message: `must be at least minInstances (${spec.minInstances})`,
      });
    }
    if (spec.initrd !== undefined && spec.kernel === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["initrd"],
        message: "needs a kernel; give kernel too, or neither for the default image",
      });
    }
  });

export type FunctionSpec = z.output<typeof functionSpecSchema>;
export type FunctionSpecInput = z.input<typeof functionSpecSchema>;

/** Parses a spec, throwing INVALID_ARGUMENT that names every offending field and what it must be. */
export function parseFunctionSpec(input: unknown, prefix = "spec"): FunctionSpec {
  const result = functionSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const violations = toViolations(result.error, prefix);
  const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
  throw new BlixardError("INVALID_ARGUMENT", `invalid function spec: ${summary}`, { violations });
}

/** The kernel command-line words that carry the environment (sorted, so equal specs give equal lines). */
export function envCmdline(vars: Readonly<Record<string, string>>): string {
  return Object.keys(vars)
    .sort()
    .map((k) => `fn.env.${k}=${vars[k]}`)
    .join(" ");
}
