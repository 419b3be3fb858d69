/**
 * Waiting for a freshly spawned qemu to be usable: it has written its pidfile (with the pid we
 * spawned) and its QMP monitor answers `query-status`. Only then is the start reported as done.
 */
import { errorMessage } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type { VmExit } from "../../ports/vm-driver.js";
import { pollUntil } from "../shared/poll.js";
import { readPidfile } from "../shared/record-file.js";
import { qmpOnce } from "./qmp-client.js";
import type { VmPaths } from "./vm-paths.js";

export interface ReadyWait {
  pid: number;
  paths: VmPaths;
  clock: Clock;
  timeoutMs: number;
  /** The child's exit, once seen: a qemu that exits during startup will never become ready. */
  exited: () => VmExit | undefined;
}

/** Resolves with undefined once ready, or with why it did not become ready in time. */
export async function waitUntilReady(wait: ReadyWait): Promise<string | undefined> {
  let lastProblem = "qemu wrote no pidfile";
  const outcome = await pollUntil(wait.clock, wait.timeoutMs, 50, async () => {
    const exit = wait.exited();
    if (exit) return `qemu exited during startup (code ${exit.code}, signal ${exit.signal})`;
    const pid = await readPidfile(wait.paths.pidfile);
    if (pid !== wait.pid) {
      lastProblem = pid === undefined ? "qemu wrote no pidfile" : `pidfile names pid ${pid}, not ${wait.pid}`;
      return undefined;
    }
    try {
      await qmpOnce(wait.paths.qmpSocket, "query-status", undefined, { clock: wait.clock, timeoutMs: 1_000 });
      return "ready";
    } catch (err) {
      lastProblem = `QMP not answering: ${errorMessage(err)}`;
      return undefined;
    }
  });
  if (outcome === "ready") return undefined;
  return outcome ?? `not ready after ${wait.timeoutMs} ms (${lastProblem})`;
}
