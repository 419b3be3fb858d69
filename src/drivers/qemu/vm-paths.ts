/**
 * Where a VM's files live: `<vmsDir>/<name>/`. Everything the driver knows about a VM across agent
 * restarts is in this directory, so its layout is the driver's on-disk contract.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { BlixardError } from "../../core/errors.js";
import { nameProblem } from "../../core/names.js";

export interface VmPaths {
  stateDir: string;
  pidfile: string;
  qmpSocket: string;
  consoleLog: string;
  stderrLog: string;
  /** What was launched and when: read back when re-adopting after an agent restart. */
  launchRecord: string;
  diskOverlay: string;
  /** passt's unix socket, which qemu's stream netdev connects to. */
  passtSocket: string;
  passtLog: string;
}

/**
 * The paths of one VM. Names were validated at the edge; they are checked again here because a name
 * becomes a directory that is later removed recursively, and a bad one must never escape vmsDir.
 */
export function vmPaths(vmsDir: string, name: string): VmPaths {
  const problem = nameProblem(name);
  if (problem)
    throw new BlixardError("INVALID_ARGUMENT", `invalid VM name ${JSON.stringify(name)}: ${problem}`);
  const root = path.resolve(vmsDir);
  const stateDir = path.resolve(root, name);
  if (path.dirname(stateDir) !== root) {
    throw new BlixardError("INTERNAL", `state dir ${stateDir} for VM ${name} is not directly inside ${root}`);
  }
  return {
    stateDir,
    pidfile: path.join(stateDir, "qemu.pid"),
    qmpSocket: path.join(stateDir, "qmp.sock"),
    consoleLog: path.join(stateDir, "console.log"),
    stderrLog: path.join(stateDir, "qemu.stderr.log"),
    launchRecord: path.join(stateDir, "vm.json"),
    diskOverlay: path.join(stateDir, "disk.qcow2"),
    passtSocket: path.join(stateDir, "passt.sock"),
    passtLog: path.join(stateDir, "passt.log"),
  };
}

/** The names of the VMs that have a state directory in `vmsDir`, sorted; anything else there is ignored. */
export async function listVmNames(vmsDir: string): Promise<string[]> {
  try {
    const entries = await readdir(vmsDir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && nameProblem(e.name) === undefined)
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}
