/**
 * The qemu driver's files in a VM's state dir (shared/vm-paths.ts): its pidfile, QMP socket, disk
 * overlay and passt's socket next to the files every driver keeps. This layout is the driver's
 * on-disk contract with a restarted agent.
 */
import path from "node:path";
import { type StateDirPaths, vmStateDir } from "../shared/vm-paths.js";

export interface VmPaths extends StateDirPaths {
  pidfile: string;
  qmpSocket: string;
  stderrLog: string;
  diskOverlay: string;
  /** passt's unix socket, which qemu's stream netdev connects to. */
  passtSocket: string;
  passtLog: string;
}

export function vmPaths(vmsDir: string, name: string): VmPaths {
  const base = vmStateDir(vmsDir, name);
  const { stateDir } = base;
  return {
    ...base,
    pidfile: path.join(stateDir, "qemu.pid"),
    qmpSocket: path.join(stateDir, "qmp.sock"),
    stderrLog: path.join(stateDir, "qemu.stderr.log"),
    diskOverlay: path.join(stateDir, "disk.qcow2"),
    passtSocket: path.join(stateDir, "passt.sock"),
    passtLog: path.join(stateDir, "passt.log"),
  };
}
