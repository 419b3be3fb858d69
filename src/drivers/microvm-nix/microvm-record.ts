/**
 * A microvm-nix VM's launch record (vm.json), and the Nix system a generated flake builds for.
 */
import type { VmSpec } from "../../core/vm-spec.js";

/** What vm.json holds for a microvm-nix VM; `pid` and `startedAt` are what every reader relies on. */
export interface MicrovmLaunchRecord {
  name: string;
  driver: "microvm-nix";
  pid: number;
  startedAt: number;
  /** The runner started (the store path `booted` points to). */
  runner: string;
  virtiofsdPid?: number;
  spec: VmSpec;
  /** How microvm-run was jailed: its uid, cgroups and the exact command. */
  jail?: { uid: number; cgroups: string[]; command: string[] };
}

export function hostNixSystem(arch: string = process.arch): string {
  return `${arch === "arm64" ? "aarch64" : arch === "x64" ? "x86_64" : arch}-linux`;
}
