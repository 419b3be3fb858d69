/**
 * Launching a prepared VM's runner as microvm@.service does, but detached from the agent: `booted`
 * linked to the runner, tap-up and macvtap-up, virtiofsd-run (until its sockets exist), then
 * `bin/microvm-run` with the state dir as working directory, jailed when the node jails VMs. The
 * launch record is written before the settle wait, so that an agent crashing mid-start still finds
 * the process; a runner that exits within the settle time fails the start with what it printed.
 */
import { realpath } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type { StartedVm } from "../../ports/vm-driver.js";
import { jailedCommand } from "../jail/jail-command.js";
import { JAILED_ENV } from "../jail/jailed-env.js";
import type { JailedVm } from "../jail/vm-jail.js";
import { fileSize, readSince } from "../shared/console-log.js";
import { withTimeout } from "../shared/poll.js";
import { writeRecordFile } from "../shared/record-file.js";
import { type OwnChild, spawnVmProcess } from "../shared/spawn-vm-process.js";
import { cleanUpAfterExit, reclaim } from "./after-exit.js";
import type { VmContext } from "./driver-options.js";
import type { MicrovmLaunchRecord } from "./microvm-record.js";
import { runDownHelpers, runUpHelpers } from "./runner-helpers.js";
import {
  checkRunnerReachable,
  readRunScript,
  runnerWritable,
  unjailableError,
  unjailableParts,
} from "./runner-jail.js";
import { readRunner } from "./runner-layout.js";
import { relink } from "./runner-links.js";
import { startVirtiofsd, stopVirtiofsd } from "./virtiofsd.js";

/** Launches the runner of a VM that is not running; `spawned` learns of the process at once. */
export async function launchRunner(
  ctx: VmContext,
  spec: VmSpec,
  spawned: (own: OwnChild) => void,
): Promise<StartedVm> {
  const { name, paths, opts, clock } = ctx;
  const runner = await realpath(paths.current).catch(() => {
    throw new BlixardError("FAILED_PRECONDITION", `VM ${name} has no runner yet; prepare it first`);
  });
  const layout = await readRunner(runner);
  const runScript = layout.helpers["microvm-run"]!;
  if (opts.jail) {
    // Refused before anything runs: never silently unjailed, never half set up.
    const reasons = unjailableParts(layout, await readRunScript(runScript));
    if (reasons.length > 0) throw unjailableError(name, reasons);
    await checkRunnerReachable(name, runScript);
  }
  await cleanUpAfterExit(ctx);
  await reclaim(ctx);
  // As microvm@.service's preStart: `booted` is the runner that runs, whatever `current` becomes.
  await relink(paths.booted, runner);
  const consoleStart = await fileSize(paths.consoleLog);
  await runUpHelpers(ctx, layout);
  const virtiofsd = await startVirtiofsd(ctx, layout, opts.startTimeoutMs ?? 30_000);
  let jailed: JailedVm | undefined;
  let own: OwnChild;
  try {
    jailed = await enterJail(ctx, spec, runner);
    const command = jailed ? jailedCommand(jailed.plan, runScript, []) : [runScript];
    const [binary, ...args] = command as [string, ...string[]];
    own = await spawnVmProcess(
      binary,
      args,
      paths.stateDir,
      paths.consoleLog,
      (exit, pid) => ctx.log.info({ vm: name, pid, ...exit }, "microvm-run exited"),
      "is the runner complete?",
      jailed ? JAILED_ENV : undefined,
    );
  } catch (err) {
    await stopVirtiofsd(ctx, virtiofsd?.pid);
    await opts.jail?.leave(name);
    throw err;
  }
  spawned(own);
  const startedAt = clock.now();
  const record: MicrovmLaunchRecord = {
    name,
    driver: "microvm-nix",
    pid: own.pid,
    startedAt,
    runner,
    ...(virtiofsd ? { virtiofsdPid: virtiofsd.pid } : {}),
    spec,
    ...(jailed
      ? {
          jail: {
            uid: jailed.uid,
            cgroups: jailed.cgroupDirs,
            command: jailedCommand(jailed.plan, runScript, []),
          },
        }
      : {}),
  };
  await writeRecordFile(paths.launchRecord, record);
  const exit = await withTimeout(clock, own.exited, opts.settleMs ?? 1_000);
  if (exit) {
    const output = (await readSince(paths.consoleLog, consoleStart, 2_000))
      .split("\n")
      .filter((line) => !line.startsWith("[blixard]"))
      .join("\n")
      .trim();
    await stopVirtiofsd(ctx, virtiofsd?.pid);
    await runDownHelpers(ctx, layout);
    await opts.jail?.leave(name);
    throw new BlixardError(
      "DRIVER_FAILED",
      `microvm-run of VM ${name} exited during startup (code ${exit.code}, signal ${exit.signal})${output ? `; it said: ${output}` : ""}`,
    );
  }
  ctx.log.info({ vm: name, pid: own.pid, runner, uid: jailed?.uid }, "VM started");
  return { pid: own.pid, startedAt };
}

/**
 * The VM's uid, files and cgroups when the node jails VMs. The runner's kernel is its own: its view
 * holds the runner's package and the Nix store, where a built runner's whole closure lives.
 */
async function enterJail(ctx: VmContext, spec: VmSpec, runner: string): Promise<JailedVm | undefined> {
  const { jail } = ctx.opts;
  if (!jail) return undefined;
  const volumes = spec.microvm?.volumes ?? [];
  const jailed = await jail.enter(
    ctx.name,
    ctx.paths.stateDir,
    spec,
    {},
    { writable: runnerWritable(volumes), readOnlyDirs: [runner], devices: ctx.opts.devices ?? [] },
  );
  ctx.log.debug({ vm: ctx.name, uid: jailed.uid, cgroups: jailed.cgroupDirs }, "jail ready");
  return jailed;
}
