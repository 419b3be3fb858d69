/**
 * Running a runner's short-lived scripts (tap-up, macvtap-up, microvm-shutdown, tap-down, …) as
 * microvm.nix's systemd units do: from the VM's state dir, with their output in the VM's log. A
 * script that outlives its budget is killed; the caller decides whether that is an error.
 */
import { spawn } from "node:child_process";
import { closeSync } from "node:fs";
import { basename } from "node:path";
import type { Clock } from "../../ports/clock.js";
import { appendNoFollow, openAppendSync } from "../shared/no-follow.js";

export interface HelperOutcome {
  /** Exit code; null when killed (timeout) or when it could not be started. */
  code: number | null;
  timedOut: boolean;
  error?: string;
}

export async function runHelper(
  script: string,
  cwd: string,
  logFile: string,
  timeoutMs: number,
  clock: Clock,
): Promise<HelperOutcome> {
  await appendNoFollow(logFile, `[blixard] running ${basename(script)}\n`);
  const out = openAppendSync(logFile);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(script, [], { cwd, stdio: ["ignore", out, out] });
  } finally {
    closeSync(out);
  }
  let timedOut = false;
  const timer = clock.setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const outcome = await new Promise<HelperOutcome>((resolve) => {
    child.once("error", (err) => resolve({ code: null, timedOut: false, error: err.message }));
    child.once("exit", (code) => resolve({ code, timedOut }));
  });
  timer.cancel();
  return outcome;
}

export function describeOutcome(outcome: HelperOutcome): string {
  if (outcome.error !== undefined) return `could not be run: ${outcome.error}`;
  if (outcome.timedOut) return "did not finish in time and was killed";
  return `exited with ${outcome.code}`;
}
