/**
 * The microvm-nix driver's options, and the one VM that each of its steps (prepare, launch, stop,
 * clean-up) works on: its name and paths with the driver's logger, clock and options.
 */
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { VmJail } from "../jail/vm-jail.js";
import type { MicrovmPaths } from "./microvm-paths.js";

export interface MicrovmNixDriverOptions {
  vmsDir: string;
  logger: Logger;
  clock: Clock;
  nixBinary?: string;
  qemuImgBinary?: string;
  /** The Nix system of generated flakes; the host's by default. */
  system?: string;
  buildTimeoutMs?: number;
  /** Budget of tap-up, macvtap-up, tap-down and the like. */
  helperTimeoutMs?: number;
  /** How long virtiofsd-run may take to create its sockets. */
  startTimeoutMs?: number;
  /** A runner that exits within this time after its start failed to start. */
  settleMs?: number;
  /** The jail microvm-run runs in; unset only with `--isolation none`. */
  jail?: VmJail;
  /** Devices the jailed runner may open beyond the base ones (/dev/kvm where KVM is usable). */
  devices?: string[];
}

/** One VM as a step of the driver sees it (also what virtiofsd.ts needs). */
export interface VmContext {
  name: string;
  paths: MicrovmPaths;
  log: Logger;
  clock: Clock;
  opts: MicrovmNixDriverOptions;
}

export const DEFAULT_HELPER_TIMEOUT_MS = 60_000;
