/**
 * How a microvm-nix VM is asked to stop before SIGKILL (shared/stop-escalation.ts): the runner's
 * microvm-shutdown as the graceful step, then SIGTERM to microvm-run as the quit step. microvm-shutdown
 * may return before the VM is down; the escalation waits for the process itself either way.
 */

import { isVmProcess } from "../shared/process-probe.js";
import type { StopSteps } from "../shared/stop-escalation.js";
import type { VmContext } from "./driver-options.js";
import { describeOutcome, runHelper } from "./run-helper.js";
import type { RunnerLayout } from "./runner-layout.js";

export function microvmStopSteps(ctx: VmContext, pid: number, layout: RunnerLayout | undefined): StopSteps {
  const { paths } = ctx;
  return {
    graceful: async (budgetMs) => {
      const shutdown = layout?.helpers["microvm-shutdown"];
      if (!shutdown) return false;
      const outcome = await runHelper(shutdown, paths.stateDir, paths.consoleLog, budgetMs, ctx.clock);
      // Returning is not the VM being down; the escalation waits for the process next.
      if (outcome.code !== 0 && !outcome.timedOut) {
        ctx.log.warn({ vm: ctx.name, outcome: describeOutcome(outcome) }, "microvm-shutdown failed");
        return false;
      }
      return true;
    },
    quit: async () => {
      if (!(await isVmProcess(pid, paths.stateDir))) return true;
      try {
        process.kill(pid, "SIGTERM");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
      return true;
    },
  };
}
