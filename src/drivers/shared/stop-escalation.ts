/**
 * Stopping a VM's process in three steps, each with its own timeout: ask the guest to power off,
 * then make the hypervisor exit, then SIGKILL. Each driver brings its own first two steps (qemu's QMP
 * Ctrl-Alt-Del and quit, microvm.nix's microvm-shutdown and SIGTERM); a step that could not be
 * delivered is skipped at once rather than waited for.
 */
import { BlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { StopMethod, StopOptions } from "../../ports/vm-driver.js";
import { pollUntil } from "./poll.js";
import { isVmProcess } from "./process-probe.js";

const POLL_MS = 50;

/** The two requests a stop makes before SIGKILL. Each resolves whether it was delivered. */
export interface StopSteps {
  /** Asks the guest to power off. */
  graceful(budgetMs: number): Promise<boolean>;
  /** Makes the hypervisor exit at once; the guest gets no say. */
  quit(budgetMs: number): Promise<boolean>;
}

export interface EscalationRequest {
  pid: number;
  /** The VM's state dir: the pid counts as the VM's only while it runs there (process-probe.ts). */
  stateDir: string;
  options: StopOptions;
  clock: Clock;
  logger: Logger;
  steps: StopSteps;
}

export async function escalateStop(req: EscalationRequest): Promise<Exclude<StopMethod, "not-running">> {
  const { clock, options, steps } = req;
  const gone = (ms: number) => waitForExit(req, ms);

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
  if (await isVmProcess(req.pid, req.stateDir)) {
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

async function waitForExit(req: EscalationRequest, timeoutMs: number): Promise<boolean> {
  const exited = await pollUntil(req.clock, timeoutMs, POLL_MS, async () =>
    (await isVmProcess(req.pid, req.stateDir)) ? undefined : true,
  );
  return exited === true;
}
