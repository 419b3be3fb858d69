/**
 * Admission of a VM spec at the API edge, the same for a create, an update and a scale-up: defaults
 * from the node (its default image), one zod parse, the caller's role against the privileged fields
 * (core/spec-policy.ts), then the node's host checks. A spec refused here changes nothing.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { BlixardError, type FieldViolation } from "../core/errors.js";
import { specFieldViolations } from "../core/spec-policy.js";
import { parseVmSpec, type VmSpec } from "../core/vm-spec.js";
import { actorOf } from "./principal-context.js";

/** What admission needs of the VM service's dependencies. */
export interface AdmissionDeps {
  /** Host-side checks of a parsed spec (do the files exist? is the port free?). */
  admission: (spec: VmSpec) => Promise<FieldViolation[]>;
  /** The node's default guest image, used when a spec names no kernel. */
  defaultImage: () => Promise<{ kernel: string; initrd?: string } | undefined>;
  /** The node's image directory: the only host paths a non-admin spec may name. */
  imageRoot: string;
}

/**
 * Validates a spec for a create, or for an update of a VM whose spec is `current`: the same schema,
 * roles and host checks, except that the host ports the VM forwards already are not probed (its own
 * process holds them).
 */
export async function admit(
  deps: AdmissionDeps,
  ctx: HandlerContext,
  input: Record<string, unknown>,
  current?: VmSpec,
): Promise<VmSpec> {
  // A microvm-nix VM boots the kernel its NixOS configuration builds; only qemu VMs take the default image.
  if (input["kernel"] === undefined && (input["driver"] ?? "qemu") === "qemu") {
    const image = await deps.defaultImage();
    if (!image) {
      throw new BlixardError(
        "INVALID_ARGUMENT",
        "spec.kernel: no kernel given and this node has no default guest image; pass --kernel PATH or build the image with: bash scripts/guest-image/build.sh <data-dir>/images/default",
        { violations: [{ field: "spec.kernel", message: "required: this node has no default guest image" }] },
      );
    }
    input["kernel"] = image.kernel;
    if (input["initrd"] === undefined && image.initrd) input["initrd"] = image.initrd;
  }
  const spec = parseVmSpec(input);
  // Before the host checks, so that a caller without the admin role cannot probe which files exist.
  permitSpec(deps, ctx, spec);
  const held = new Set(current?.forwards.map((f) => `${f.protocol}/${f.host}`));
  const probed = spec.forwards.flatMap((f, i) => (held.has(`${f.protocol}/${f.host}`) ? [] : [i]));
  const violations = (await deps.admission({ ...spec, forwards: probed.map((i) => spec.forwards[i]!) })).map(
    (v) => ({
      ...v,
      field: v.field.replace(
        /^spec\.forwards\.(\d+)/,
        (_, j: string) => `spec.forwards.${probed[Number(j)]}`,
      ),
    }),
  );
  if (violations.length > 0) {
    const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
    throw new BlixardError("INVALID_ARGUMENT", `invalid VM spec: ${summary}`, { violations });
  }
  return spec;
}

/** Refuses the spec fields the caller's role may not set; no principal counts as the operator role. */
export function permitSpec(deps: AdmissionDeps, ctx: HandlerContext, spec: VmSpec): void {
  const violations = specFieldViolations(actorOf(ctx)?.role ?? "operator", spec, deps.imageRoot);
  if (violations.length > 0) {
    const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
    throw new BlixardError("PERMISSION_DENIED", `permission denied: ${summary}`, { violations });
  }
}
