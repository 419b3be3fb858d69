/**
 * Whether a node offers the microvm-nix driver. `auto` (the default) offers it when `nix` is on the
 * PATH: without Nix, only VMs with a prebuilt runner could run, and a cluster would place flake VMs
 * on nodes that cannot build them. `on` offers it regardless (a node that runs only prebuilt
 * runners, or whose nix is elsewhere); `off` never does.
 */
import { findOnPath } from "../shared/find-on-path.js";

// Re-exported: the node asks for nix through the offer.
export { findOnPath };

export type MicrovmNixMode = "auto" | "on" | "off";

export interface MicrovmNixOffer {
  offered: boolean;
  /** For the node's log. */
  reason: string;
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
