/**
 * Stopping a running qemu the way microvm.nix does: Ctrl-Alt-Del through QMP (the guest init powers
 * off, and -no-reboot turns that into a qemu exit), then QMP `quit` (qemu exits at once, the guest
 * gets no say), then SIGKILL. Each step has its own timeout, and an unreachable QMP only skips ahead.
 */
import { BlixardError, errorMessage, isBlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { StopMethod, StopOptions } from "../../ports/vm-driver.js";
import { pollUntil } from "./poll.js";
import { isVmProcess } from "./process-probe.js";
import { QmpClient } from "./qmp-client.js";
import type { VmPaths } from "./vm-paths.js";

/** Longest a single QMP exchange may take within a step; the rest of the step is spent waiting. */
const QMP_BUDGET_MS = 2_000;
const POLL_MS = 50;

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

/**
 * The two requests a stop makes before SIGKILL. Each resolves whether it was delivered: one that was
 * not is skipped at once rather than waited for. The qemu driver's are QMP Ctrl-Alt-Del and QMP quit;
 * other drivers bring their own (microvm.nix's microvm-shutdown, SIGTERM).
 */
export interface StopSteps {
  /** Asks the guest to power off. */
  graceful(budgetMs: number): Promise<boolean>;
  /** Makes the hypervisor exit at once; the guest gets no say. */
  quit(budgetMs: number): Promise<boolean>;
}

export interface StopRequest {
  pid: number;
  paths: Pick<VmPaths, "stateDir" | "qmpSocket">;
  options: StopOptions;
  clock: Clock;
  logger: Logger;
  /** QMP Ctrl-Alt-Del and quit unless given. */
  steps?: StopSteps;
}

export async function stopVm(req: StopRequest): Promise<Exclude<StopMethod, "not-running">> {
  const { clock, options } = req;
  const gone = (ms: number) => waitForExit(req, ms);
  const steps = req.steps ?? qmpSteps(req);

  const gracefulStart = clock.now();
  if (await steps.graceful(options.gracefulTimeoutMs)) {
    const remaining = options.gracefulTimeoutMs - (clock.now() - gracefulStart);
    if (await gone(Math.max(0, remaining))) return "graceful";
    req.logger.warn({ pid: req.pid, timeoutMs: options.gracefulTimeoutMs }, "guest did not power off");
  }

  if (await steps.quit(options.quitTimeoutMs)) {
    if (await gone(options.quitTimeoutMs)) return "quit";
    req.logger.warn({ pid: req.pid, timeoutMs: options.quitTimeoutMs }, "hypervisor did not exit after quit");
  }

  // Checked again just before the kill: the pid must still be this VM's process, never a reused pid.
  if (await isVmProcess(req.pid, req.paths.stateDir)) {
    try {
      process.kill(req.pid, "SIGKILL");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
  if (await gone(options.killTimeoutMs)) return "kill";
  throw new BlixardError(
    "DRIVER_FAILED",
    `VM process ${req.pid} is still running ${options.killTimeoutMs} ms after SIGKILL (stuck in the kernel?)`,
  );
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

async function waitForExit(req: StopRequest, timeoutMs: number): Promise<boolean> {
  const exited = await pollUntil(req.clock, timeoutMs, POLL_MS, async () =>
    (await isVmProcess(req.pid, req.paths.stateDir)) ? undefined : true,
  );
  return exited === true;
}
