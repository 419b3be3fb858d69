/**
 * A microvm-nix VM's state dir, laid out as microvm.nix's host module lays out
 * /var/lib/microvms/<name>: `current` (the runner to start), `booted` (the runner that runs), and the
 * hypervisor's relative files (control.socket, volumes, virtiofs sockets), since the runner's working
 * directory is this directory. Blixard's own files sit next to them.
 */
import { join } from "node:path";
import { vmStateDir } from "../shared/vm-paths.js";
import { CONTROL_SOCKET, DISK_IMAGE } from "./flake-gen.js";

export interface MicrovmPaths {
  stateDir: string;
  consoleLog: string;
  launchRecord: string;
  /** The flake Blixard writes and builds. */
  flakeDir: string;
  /** The out-link of the build (a GC root), or a link to a prebuilt runner. */
  current: string;
  /** The runner the running VM was started from; stop uses its scripts. */
  booted: string;
  buildRecord: string;
  diskImage: string;
  controlSocket: string;
  virtiofsdLog: string;
}

export function microvmPaths(vmsDir: string, name: string): MicrovmPaths {
  const base = vmStateDir(vmsDir, name);
  const { stateDir } = base;
  return {
    stateDir,
    consoleLog: base.consoleLog,
    launchRecord: base.launchRecord,
    flakeDir: join(stateDir, "flake"),
    current: join(stateDir, "current"),
    booted: join(stateDir, "booted"),
    buildRecord: join(stateDir, "build.json"),
    diskImage: join(stateDir, DISK_IMAGE),
    controlSocket: join(stateDir, CONTROL_SOCKET),
    virtiofsdLog: join(stateDir, "virtiofsd.log"),
  };
}
