/**
 * Is the hypervisor of a given VM alive? A pid alone does not say: pids are reused, and a process
 * that has exited but not been reaped (a zombie) still answers kill(pid, 0). So a pid counts as this
 * VM's process only when it is alive, not a zombie, and either its command line names this VM's state
 * dir (Blixard's qemu command lines do) or its working directory is the state dir (microvm.nix
 * runners use paths relative to it, and every driver starts its VMs there), as seen from the host.
 */
import { readFile, readlink } from "node:fs/promises";
import { hostCwdCandidates } from "../jail/jail-view.js";

/** kill(pid, 0): ESRCH means gone; EPERM means alive but owned by someone else. */
export function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The one-letter state from /proc/<pid>/stat (R, S, D, Z, ...), or undefined if the process is gone. */
export async function procState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    return stat
      .slice(stat.lastIndexOf(")") + 1)
      .trim()
      .split(" ")[0];
  } catch {
    return undefined;
  }
}

export async function procCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return raw.split("\0").filter((arg, i, all) => arg !== "" || i < all.length - 1);
  } catch {
    return undefined;
  }
}

/** The process's working directory, or undefined when it is gone or not ours to read. */
export async function procCwd(pid: number): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live, non-zombie process launched with files in, or running in, `stateDir`. */
export async function isVmProcess(pid: number, stateDir: string): Promise<boolean> {
  if (!pidExists(pid)) return false;
  const state = await procState(pid);
  if (state === undefined || state === "Z" || state === "X") return false;
  const argv = await procCmdline(pid);
  // The trailing slash keeps VM "a" from matching VM "ab"'s files.
  if (argv?.some((arg) => arg.startsWith(`${stateDir}/`))) return true;
  // A jailed process's cwd reads through its own mount namespace: see jail-view.ts.
  const cwd = await procCwd(pid);
  return cwd !== undefined && hostCwdCandidates(stateDir).includes(cwd);
}
