/**
 * A runner's virtiofsd-run (supervisord with one virtiofsd per share), as microvm.nix's
 * microvm-virtiofsd@ unit runs it: detached, from the VM's state dir, ready once every socket the
 * runner lists exists; stopped by signalling its whole process group. Never under the jail (the
 * driver refuses such runners in strict mode: see runner-jail.ts).
 */

import { rm } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import { readSince } from "../shared/console-log.js";
import { fileExists } from "../shared/files.js";
import { pollUntil } from "../shared/poll.js";
import { isVmProcess } from "../shared/process-probe.js";
import { killQuietly, type OwnChild, spawnVmProcess } from "../shared/spawn-vm-process.js";
import type { MicrovmPaths } from "./microvm-paths.js";
import type { RunnerLayout } from "./runner-layout.js";

export interface VirtiofsdContext {
  name: string;
  paths: MicrovmPaths;
  log: Logger;
  clock: Clock;
}

/** SIGTERM to virtiofsd-run's process group (supervisord and its virtiofsd), SIGKILL if it stays. */
export async function stopVirtiofsd(ctx: VirtiofsdContext, pid: number | undefined): Promise<void> {
  const { stateDir } = ctx.paths;
  if (pid === undefined || !(await isVmProcess(pid, stateDir))) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      killQuietly(pid);
    }
  };
  signalGroup("SIGTERM");
  const gone = await pollUntil(ctx.clock, 5_000, 50, async () =>
    (await isVmProcess(pid, stateDir)) ? undefined : true,
  );
  if (!gone) signalGroup("SIGKILL");
  ctx.log.info({ vm: ctx.name, pid }, "virtiofsd stopped");
}

/** Starts virtiofsd-run when the runner has it; resolves once its sockets exist. */
export async function startVirtiofsd(
  ctx: VirtiofsdContext,
  layout: RunnerLayout,
  timeoutMs: number,
): Promise<OwnChild | undefined> {
  const { name, paths } = ctx;
  const script = layout.helpers["virtiofsd-run"];
  if (!script) return undefined;
  for (const socket of layout.virtiofsSockets) await rm(`${paths.stateDir}/${socket}`, { force: true });
  const own = await spawnVmProcess(script, [], paths.stateDir, paths.virtiofsdLog, (exit, pid) =>
    ctx.log.info({ vm: name, pid, ...exit }, "virtiofsd-run exited"),
  );
  const ready = await pollUntil(ctx.clock, timeoutMs, 50, async () => {
    if (own.exit) return "exited";
    const present = await Promise.all(
      layout.virtiofsSockets.map((s) => fileExists(`${paths.stateDir}/${s}`)),
    );
    return present.every(Boolean) ? "ready" : undefined;
  });
  if (ready === "ready") return own;
  await stopVirtiofsd(ctx, own.pid);
  const output = (await readSince(paths.virtiofsdLog, 0, 2_000)).trim();
  throw new BlixardError(
    "DRIVER_FAILED",
    `virtiofsd-run of VM ${name} ${ready === "exited" ? "exited" : `created no sockets within ${timeoutMs} ms`}${output ? `; it said: ${output}` : ""}`,
  );
}
