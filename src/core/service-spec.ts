/**
 * The service spec: a stable virtual address and port in front of a replica group's VMs, load-balanced
 * by every node (agent/services/). Parsed once at the edge (API, CLI, `apply`) with zod, strictly: an
 * unknown field is a mistake worth naming, not something to ignore.
 */
import { z } from "zod";
import { BlixardError } from "./errors.js";
import { nameProblem } from "./names.js";
import { toViolations } from "./vm-spec.js";

export const SERVICE_PROTOCOLS = ["tcp"] as const;
export type ServiceProtocol = (typeof SERVICE_PROTOCOLS)[number];

/**
 * A host port below 1024 belongs to a privileged host service (sshd, DNS, a web server) that a
 * service must not shadow on every node at once; the same rule as a VM's forwards.
 */
export const MIN_HOST_PORT = 1024;

const dnsLabel = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const port = z.int("must be a whole number").min(1, "must be 1 to 65535").max(65535, "must be 1 to 65535");

export const serviceSpecSchema = z.strictObject({
  name: dnsLabel,
  /** The port clients connect to at the service address. */
  port,
  /** The port the members listen on. */
  targetPort: port,
  /** The replica group whose VMs serve it (`vm create GROUP --replicas N --network bridge`). */
  group: dnsLabel,
  protocol: z.enum(SERVICE_PROTOCOLS).default("tcp"),
  /** The same port on every node's underlay address, for clients outside the cluster network. */
  hostPort: z
    .int("must be a whole number")
    .min(MIN_HOST_PORT, `must be at least ${MIN_HOST_PORT}: lower ports belong to the host's own services`)
    .max(65535, "must be at most 65535")
    .optional(),
});

export type ServiceSpec = z.output<typeof serviceSpecSchema>;

/** Parses a spec, throwing INVALID_ARGUMENT that names every offending field and what it must be. */
export function parseServiceSpec(input: unknown, prefix = "spec"): ServiceSpec {
  const result = serviceSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const violations = toViolations(result.error, prefix);
  const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
  throw new BlixardError("INVALID_ARGUMENT", `invalid service spec: ${summary}`, { violations });
}
