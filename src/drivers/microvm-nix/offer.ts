/**
 * Whether a node offers the microvm-nix driver. `auto` (the default) offers it when `nix` is on the
 * PATH: without Nix, only VMs with a prebuilt runner could run, and a cluster would place flake VMs
 * on nodes that cannot build them. `on` offers it regardless (a node that runs only prebuilt
 * runners, or whose nix is elsewhere); `off` never does.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export type MicrovmNixMode = "auto" | "on" | "off";

export interface MicrovmNixOffer {
  offered: boolean;
  /** For the node's log. */
  reason: string;
}

/** The first executable `name` on `path`, or undefined. */
export function findOnPath(name: string, path = process.env["PATH"] ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** `nix`: where nix was found (findOnPath("nix")), or undefined. */
export function microvmNixOffer(mode: MicrovmNixMode, nix: string | undefined): MicrovmNixOffer {
  if (mode === "off") return { offered: false, reason: "turned off with --microvm-nix off" };
  if (mode === "on") {
    return {
      offered: true,
      reason: nix
        ? `turned on with --microvm-nix on; builds with ${nix}`
        : "turned on with --microvm-nix on; no nix on the PATH, so only prebuilt runners (--runner) can start",
    };
  }
  return nix
    ? { offered: true, reason: `nix found at ${nix}` }
    : {
        offered: false,
        reason: "no nix on the PATH (install Nix, or pass --microvm-nix on for prebuilt runners)",
      };
}
