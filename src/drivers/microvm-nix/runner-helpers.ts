/**
 * The runner's interface scripts around a VM's life, as microvm.nix's units run them: tap-up and
 * macvtap-up before microvm-run (a failure stops the start), tap-down and macvtap-down once the VM is
 * down (a failure is only logged: the VM is down either way).
 */
import { BlixardError } from "../../core/errors.js";
import { DEFAULT_HELPER_TIMEOUT_MS, type VmContext } from "./driver-options.js";
import { describeOutcome, runHelper } from "./run-helper.js";
import type { RunnerLayout } from "./runner-layout.js";

export async function runUpHelpers(ctx: VmContext, layout: RunnerLayout): Promise<void> {
  for (const helper of ["tap-up", "macvtap-up"] as const) {
    const script = layout.helpers[helper];
    if (!script) continue;
    const outcome = await runHelper(script, ctx.paths.stateDir, ctx.paths.consoleLog, budget(ctx), ctx.clock);
    if (outcome.code === 0) continue;
    throw new BlixardError(
      "DRIVER_FAILED",
      `${helper} of VM ${ctx.name} ${describeOutcome(outcome)}; its output is in blixard vm logs ${ctx.name}` +
        " (creating tap and macvtap interfaces needs CAP_NET_ADMIN: see docs/nixos.md)",
    );
  }
}

export async function runDownHelpers(ctx: VmContext, layout: RunnerLayout | undefined): Promise<void> {
  for (const helper of ["tap-down", "macvtap-down"] as const) {
    const script = layout?.helpers[helper];
    if (!script) continue;
    const outcome = await runHelper(script, ctx.paths.stateDir, ctx.paths.consoleLog, budget(ctx), ctx.clock);
    if (outcome.code !== 0)
      ctx.log.warn({ vm: ctx.name, helper, outcome: describeOutcome(outcome) }, "helper failed");
  }
}

function budget(ctx: VmContext): number {
  return ctx.opts.helperTimeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
}
