/**
 * Launching a VM's process (qemu, passt, a microvm.nix runner, virtiofsd) so that it outlives the
 * agent: in its own session (terminal signals to the agent do not reach it), with output to a file
 * (it never blocks on, or dies with, a pipe to the agent), and unreferenced (the agent can exit
 * while it runs). The exit status stays observable for as long as
 * the spawning process lives, which is what makes `VmExit.known` true.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { VmExit } from "../../ports/vm-driver.js";
import { openAppendSync } from "./no-follow.js";

/** A VM process this process spawned. */
export interface OwnChild {
  pid: number;
  /** Set once Node has reaped the process. */
  exit?: VmExit;
  exited: Promise<VmExit>;
}

export async function spawnVmProcess(
  binary: string,
  argv: string[],
  cwd: string,
  outputFile: string,
  onExit: (exit: VmExit, pid: number) => void,
  /** What to tell the user when the binary cannot be run at all. */
  missingHint = "is it installed?",
  /** The child's environment; the node's own unless given (the jail gives only PATH). */
  env?: NodeJS.ProcessEnv,
): Promise<OwnChild> {
  // Never through a link: the state dir may belong to the VM's (hostile) uid.
  const out = openAppendSync(outputFile);
  let child: ChildProcess;
  try {
    child = spawn(binary, argv, {
      cwd,
      detached: true,
      stdio: ["ignore", out, out],
      ...(env ? { env } : {}),
    });
  } finally {
    // The child has its own copy of the descriptor now.
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once("error", resolve));
    throw new BlixardError("DRIVER_FAILED", `cannot run ${binary}: ${errorMessage(err)} (${missingHint})`, {
      cause: err,
    });
  }
  child.unref();
  let resolve!: (exit: VmExit) => void;
  const own: OwnChild = {
    pid,
    exited: new Promise((r) => {
      resolve = r;
    }),
  };
  child.once("exit", (code, signal) => {
    own.exit = { code, signal, known: true };
    resolve(own.exit);
    onExit(own.exit, pid);
  });
  return own;
}

/** SIGKILL to a pid we own; it may already have exited, which is what we wanted anyway. */
export function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
