/**
 * Stopping a running qemu the way microvm.nix does: Ctrl-Alt-Del through QMP (the guest init powers
 * off, and -no-reboot turns that into a qemu exit), then QMP `quit` (qemu exits at once, the guest
 * gets no say), then SIGKILL (shared/stop-escalation.ts). An unreachable QMP only skips ahead.
 */
import { errorMessage, isBlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { StopMethod, StopOptions } from "../../ports/vm-driver.js";
import { escalateStop, type StopSteps } from "../shared/stop-escalation.js";
import { QmpClient } from "./qmp-client.js";
import type { VmPaths } from "./vm-paths.js";

/** Longest a single QMP exchange may take within a step; the rest of the step is spent waiting. */
const QMP_BUDGET_MS = 2_000;

function key(down: boolean, qcode: string) {
  return { type: "key", data: { down, key: { type: "qcode", data: qcode } } };
}

/** All three keys pressed, then released: the guest sees the chord, like a person would press it. */
export const CTRL_ALT_DEL = {
  events: [
    key(true, "ctrl"),
    key(true, "alt"),
    key(true, "delete"),
    key(false, "delete"),
    key(false, "alt"),
    key(false, "ctrl"),
  ],
};

export interface StopRequest {
  pid: number;
  paths: Pick<VmPaths, "stateDir" | "qmpSocket">;
  options: StopOptions;
  clock: Clock;
  logger: Logger;
}

export async function stopVm(req: StopRequest): Promise<Exclude<StopMethod, "not-running">> {
  return escalateStop({
    pid: req.pid,
    stateDir: req.paths.stateDir,
    options: req.options,
    clock: req.clock,
    logger: req.logger,
    steps: qmpSteps(req),
  });
}

function qmpSteps(req: StopRequest): StopSteps {
  return {
    graceful: (budgetMs) => sendQmp(req, "input-send-event", CTRL_ALT_DEL, budgetMs),
    quit: (budgetMs) => sendQmp(req, "quit", undefined, budgetMs),
  };
}

/**
 * Sends one QMP command, returning whether it was delivered. A connection that qemu closes after
 * the command was written counts as delivered: qemu may exit before it replies.
 */
async function sendQmp(
  req: StopRequest,
  command: string,
  args: Record<string, unknown> | undefined,
  stepMs: number,
): Promise<boolean> {
  const budget = Math.max(1, Math.min(QMP_BUDGET_MS, stepMs));
  let client: QmpClient;
  try {
    client = await QmpClient.connect(req.paths.qmpSocket, { clock: req.clock, timeoutMs: budget });
  } catch (err) {
    req.logger.warn({ pid: req.pid, command, err: errorMessage(err) }, "QMP unreachable; skipping stop step");
    return false;
  }
  try {
    await client.execute(command, args, budget);
    return true;
  } catch (err) {
    if (isBlixardError(err, "UNAVAILABLE")) return true;
    req.logger.warn(
      { pid: req.pid, command, err: errorMessage(err) },
      "QMP command failed; skipping stop step",
    );
    return false;
  } finally {
    client.close();
  }
}
