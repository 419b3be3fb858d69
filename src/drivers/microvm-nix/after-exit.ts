/**
 * What the driver does around a VM that is down: what microvm.nix's units do once it stopped
 * (virtiofsd stopped, tap-down and macvtap-down, `booted` removed), reading which runner ran, and
 * taking back the node's own names from a jailed VM's state dir.
 */
import { realpath, rm } from "node:fs/promises";
import { isVmProcess } from "../shared/process-probe.js";
import { readRecordFile } from "../shared/record-file.js";
import type { VmContext } from "./driver-options.js";
import type { MicrovmPaths } from "./microvm-paths.js";
import type { MicrovmLaunchRecord } from "./microvm-record.js";
import { runDownHelpers } from "./runner-helpers.js";
import { reclaimNodeNames } from "./runner-jail.js";
import { type RunnerLayout, readRunner } from "./runner-layout.js";
import { isLink } from "./runner-links.js";
import { stopVirtiofsd } from "./virtiofsd.js";

/**
 * Also run before a start, for a VM that went down by itself. Only when the VM is really down:
 * interfaces are never taken from a running VM.
 */
export async function cleanUpAfterExit(ctx: VmContext): Promise<void> {
  const { paths } = ctx;
  if (!(await isLink(paths.booted))) return;
  const record = await readRecordFile<MicrovmLaunchRecord>(paths.launchRecord);
  if (record && (await isVmProcess(record.pid, paths.stateDir))) return;
  await stopVirtiofsd(ctx, record?.virtiofsdPid);
  await runDownHelpers(ctx, await bootedLayout(paths));
  await rm(paths.booted, { force: true });
}

/** The layout of the runner the VM was started from, if it still exists. */
export async function bootedLayout(paths: MicrovmPaths): Promise<RunnerLayout | undefined> {
  const runner = await realpath(paths.booted).catch(() => undefined);
  return runner === undefined ? undefined : readRunner(runner).catch(() => undefined);
}

/** The node's own names in a jailed VM's state dir, taken back from whatever the VM put there. */
export async function reclaim(ctx: VmContext): Promise<void> {
  if (!ctx.opts.jail) return;
  const removed = await reclaimNodeNames(ctx.paths.stateDir);
  if (removed.length > 0)
    ctx.log.warn({ vm: ctx.name, removed }, "removed files the VM put in the node's place");
}
