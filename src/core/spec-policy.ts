/**
 * The privileged fields of a VM spec. A host path lets a VM read or overwrite any file the node can
 * (`disk: /etc/shadow`), and a microvm.nix runner, flake, NixOS module or inline configuration runs
 * code on the host while it builds or starts. Only the admin role may set them; an operator may boot
 * images from the node's image directories (`<data-dir>/images/...`) and nothing else of the host.
 */
import type { FieldViolation } from "./errors.js";
import { DEFAULT_MICROVM_FLAKE, DEFAULT_NIXPKGS } from "./microvm-spec.js";
import { type Role, roleAtLeast } from "./roles.js";
import type { VmSpec } from "./vm-spec.js";

const NEEDS_ADMIN = "needs the admin role";

/**
 * The fields of `spec` that `role` may not set, each naming the field and the role it needs.
 * `imageRoot` is the node's image directory (absolute, no trailing slash).
 */
export function specFieldViolations(role: Role, spec: VmSpec, imageRoot: string): FieldViolation[] {
  if (roleAtLeast(role, "admin")) return [];
  const out: FieldViolation[] = [];
  const deny = (field: string, what: string) => out.push({ field, message: `${what} ${NEEDS_ADMIN}` });
  for (const field of ["kernel", "initrd", "disk"] as const) {
    const path = spec[field];
    if (path !== undefined && !isInside(path, imageRoot)) {
      deny(`spec.${field}`, `host path ${path} is outside the node's image directory ${imageRoot}/ and`);
    }
  }
  const m = spec.microvm;
  if (m === undefined) return out;
  if (m.runner !== undefined) deny("spec.microvm.runner", "a prebuilt microvm.nix runner");
  if (m.flake !== undefined) deny("spec.microvm.flake", "a flake");
  if (m.nixpkgs !== DEFAULT_NIXPKGS) deny("spec.microvm.nixpkgs", "a nixpkgs other than the default");
  if (m.microvmFlake !== DEFAULT_MICROVM_FLAKE) {
    deny("spec.microvm.microvmFlake", "a microvm.nix flake other than the default");
  }
  if (m.modules.length > 0) deny("spec.microvm.modules", "NixOS module files");
  if (m.config !== "") deny("spec.microvm.config", "inline Nix configuration");
  if (m.shares.length > 0) deny("spec.microvm.shares", "sharing host directories");
  m.interfaces.forEach((iface, i) => {
    // tap, macvtap and bridge interfaces attach the VM to the host's own networks.
    if (iface.type !== "user") deny(`spec.microvm.interfaces.${i}.type`, `a ${iface.type} interface`);
  });
  return out;
}

/** Whether absolute `path` lies strictly inside `dir`, compared by segments ('.' and '..' refused). */
export function isInside(path: string, dir: string): boolean {
  const segments = path.split("/");
  if (!path.startsWith("/") || segments.some((s) => s === "." || s === "..")) return false;
  const inner = segments.filter((s) => s !== "");
  const outer = dir.split("/").filter((s) => s !== "");
  return inner.length > outer.length && outer.every((s, i) => inner[i] === s);
}
