/**
 * Where a VM's files live: `<vmsDir>/<name>/`, whichever driver runs it. Everything a driver knows
 * about a VM across agent restarts is in this directory; the files every driver keeps there (the
 * console log, the launch record) have the same names for all of them, so the node's log rotation
 * and watchdog find them without asking which driver it was.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { BlixardError } from "../../core/errors.js";
import { nameProblem } from "../../core/names.js";

export interface StateDirPaths {
  stateDir: string;
  consoleLog: string;
  /** What was launched and when: read back when re-adopting after an agent restart. */
  launchRecord: string;
}

/**
 * The state dir of one VM. Names were validated at the edge; they are checked again here because a
 * name becomes a directory that is later removed recursively, and a bad one must never escape vmsDir.
 */
export function vmStateDir(vmsDir: string, name: string): StateDirPaths {
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
    consoleLog: path.join(stateDir, "console.log"),
    launchRecord: path.join(stateDir, "vm.json"),
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
