/**
 * The microvm-nix VmDriver: builds a VM's runner with Nix (or takes one built already) and supervises
 * it as microvm.nix's host module does under systemd, but detached from the agent so that it outlives
 * it: `current/bin/microvm-run` with the state dir as working directory, after tap-up, macvtap-up and
 * virtiofsd-run when the runner has them; stop with microvm-shutdown, then waiting for the process
 * itself (microvm-shutdown may return before the VM is down), then SIGTERM, then SIGKILL. A restarted
 * agent re-adopts the VM from its launch record (vm.json), as with the qemu driver. With a jail
 * (`--isolation strict`) microvm-run runs through the same launcher as the qemu driver's qemu: the
 * VM's own uid, its cgroups, a private mount namespace, no capabilities (runner-jail.ts says what
 * cannot be jailed and is refused).
 */
import { existsSync } from "node:fs";
import { mkdir, realpath, rm, stat } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import { defaultMicrovm, runnerSource } from "../../core/microvm-spec.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { ProgressFn, StartedVm, StopMethod, StopOptions, VmRuntime } from "../../ports/vm-driver.js";
import { jailedCommand } from "../jail/jail-command.js";
import { JAILED_ENV } from "../jail/jailed-env.js";
import type { JailedVm, VmJail } from "../jail/vm-jail.js";
import { fileSize, readSince } from "../shared/console-log.js";
import { appendNoFollow } from "../shared/no-follow.js";
import { withTimeout } from "../shared/poll.js";
import { isVmProcess } from "../shared/process-probe.js";
import { readRecordFile, writeRecordFile } from "../shared/record-file.js";
import { type OwnChild, spawnVmProcess } from "../shared/spawn-vm-process.js";
import { StateDirDriver } from "../shared/state-dir-driver.js";
import { escalateStop } from "../shared/stop-escalation.js";
import { processRuntime, REAP_GRACE_MS } from "../shared/vm-process.js";
import { buildKey, cacheHit, readBuildRecord, writeBuildRecord } from "./build-cache.js";
import { ensureDiskImage } from "./disk-image.js";
import { writeFlakeDir } from "./flake-dir.js";
import { type MicrovmPaths, microvmPaths } from "./microvm-paths.js";
import { hostNixSystem, type MicrovmLaunchRecord } from "./microvm-record.js";
import { nixBuildCommand, runNixBuild } from "./nix-build.js";
import { describeOutcome, runHelper } from "./run-helper.js";
import {
  checkRunnerReachable,
  readRunScript,
  reclaimNodeNames,
  runnerWritable,
  unjailableError,
  unjailableParts,
} from "./runner-jail.js";
import { type RunnerLayout, readRunner } from "./runner-layout.js";
import { isLink, relink } from "./runner-links.js";
import { startVirtiofsd, stopVirtiofsd, type VirtiofsdContext } from "./virtiofsd.js";

export interface MicrovmNixDriverOptions {
  vmsDir: string;
  logger: Logger;
  clock: Clock;
  nixBinary?: string;
  qemuImgBinary?: string;
  /** The Nix system of generated flakes; the host's by default. */
  system?: string;
  buildTimeoutMs?: number;
  /** Budget of tap-up, macvtap-up, tap-down and the like. */
  helperTimeoutMs?: number;
  /** How long virtiofsd-run may take to create its sockets. */
  startTimeoutMs?: number;
  /** A runner that exits within this time after its start failed to start. */
  settleMs?: number;
  /** The jail microvm-run runs in; unset only with `--isolation none`. */
  jail?: VmJail;
  /** Devices the jailed runner may open beyond the base ones (/dev/kvm where KVM is usable). */
  devices?: string[];
}

export class MicrovmNixDriver extends StateDirDriver {
  readonly name = "microvm-nix";

  private readonly nix: string;

  constructor(private readonly opts: MicrovmNixDriverOptions) {
    super(opts.logger.child({ component: "microvm-nix-driver" }), opts.vmsDir, opts.clock);
    this.nix = opts.nixBinary ?? "nix";
  }

  async prepare(name: string, spec: VmSpec, report?: ProgressFn): Promise<void> {
    const paths = this.paths(name);
    await this.locks.run(name, async () => {
      await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
      await this.reclaim(name, paths);
      // Each step also goes into the console log, so that `blixard vm logs -f` shows how a build goes.
      const progress: ProgressFn = (p) => {
        report?.(p);
        const percent = p.fraction === undefined ? "" : ` (${Math.round(p.fraction * 100)}%)`;
        void appendNoFollow(paths.consoleLog, `[blixard] ${p.step}${percent}\n`).catch(() => {});
      };
      const microvm = spec.microvm ?? defaultMicrovm();
      const source = runnerSource(name, microvm);
      if (source.kind === "runner") {
        progress({ step: "checking the prebuilt runner", fraction: 0.1 });
        await readRunner(source.path);
        await relink(paths.current, source.path);
      } else {
        progress({ step: "writing the flake", fraction: 0.05 });
        const base =
          source.kind === "flake"
            ? { kind: "flake" as const, ref: source.ref, config: source.config }
            : { kind: "generated" as const, system: this.opts.system ?? hostNixSystem() };
        await writeFlakeDir(paths.flakeDir, name, spec, microvm, base);
        const key = await buildKey(paths.flakeDir, source.kind === "flake" ? source.ref : undefined);
        if (await cacheHit(await readBuildRecord(paths.buildRecord), key, paths.current)) {
          progress({ step: "runner up to date (cached build)", fraction: 0.9 });
          this.log.info({ vm: name, key }, "runner up to date; not rebuilding");
        } else {
          await this.build(name, paths, source.kind === "flake", key, progress);
        }
      }
      if (spec.disk) {
        progress({ step: "copying the base disk image", fraction: 0.95 });
        const binary = this.opts.qemuImgBinary ?? "qemu-img";
        if (await ensureDiskImage(binary, spec.disk, paths.diskImage))
          this.log.info({ vm: name, base: spec.disk, image: paths.diskImage }, "disk image copied");
      }
      progress({ step: "prepared", fraction: 1 });
    });
  }

  async start(name: string, spec: VmSpec): Promise<StartedVm> {
    const paths = this.paths(name);
    return this.locks.run(name, async () => {
      const current = await this.inspect(name);
      if (current.state === "running") {
        throw new BlixardError("FAILED_PRECONDITION", `VM ${name} is already running as pid ${current.pid}`);
      }
      const runner = await realpath(paths.current).catch(() => {
        throw new BlixardError("FAILED_PRECONDITION", `VM ${name} has no runner yet; prepare it first`);
      });
      const layout = await readRunner(runner);
      const runScript = layout.helpers["microvm-run"]!;
      if (this.opts.jail) {
        // Refused before anything runs: never silently unjailed, never half set up.
        const reasons = unjailableParts(layout, await readRunScript(runScript));
        if (reasons.length > 0) throw unjailableError(name, reasons);
        await checkRunnerReachable(name, runScript);
      }
      await this.cleanUpAfterExit(name, paths);
      await this.reclaim(name, paths);
      // As microvm@.service's preStart: `booted` is the runner that runs, whatever `current` becomes.
      await relink(paths.booted, runner);
      const consoleStart = await fileSize(paths.consoleLog);
      for (const helper of ["tap-up", "macvtap-up"] as const) {
        const script = layout.helpers[helper];
        if (script) await this.runRequired(name, helper, script, paths);
      }
      const virtiofsd = await startVirtiofsd(
        this.virtiofsd(name, paths),
        layout,
        this.opts.startTimeoutMs ?? 30_000,
      );
      let jailed: JailedVm | undefined;
      let own: OwnChild;
      try {
        jailed = await this.enterJail(name, spec, paths, runner);
        const [binary, ...args] = (jailed ? jailedCommand(jailed.plan, runScript, []) : [runScript]) as [
          string,
          ...string[],
        ];
        own = await spawnVmProcess(
          binary,
          args,
          paths.stateDir,
          paths.consoleLog,
          (exit, pid) => this.log.info({ vm: name, pid, ...exit }, "microvm-run exited"),
          "is the runner complete?",
          jailed ? JAILED_ENV : undefined,
        );
      } catch (err) {
        await stopVirtiofsd(this.virtiofsd(name, paths), virtiofsd?.pid);
        await this.opts.jail?.leave(name);
        throw err;
      }
      this.children.set(name, own);
      const startedAt = this.opts.clock.now();
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
      // Recorded before waiting, so that an agent crashing mid-start still finds the process.
      await writeRecordFile(paths.launchRecord, record);
      const exit = await withTimeout(this.opts.clock, own.exited, this.opts.settleMs ?? 1_000);
      if (exit) {
        const output = (await readSince(paths.consoleLog, consoleStart, 2_000))
          .split("\n")
          .filter((line) => !line.startsWith("[blixard]"))
          .join("\n")
          .trim();
        await stopVirtiofsd(this.virtiofsd(name, paths), virtiofsd?.pid);
        await this.runDownHelpers(name, layout, paths);
        await this.opts.jail?.leave(name);
        throw new BlixardError(
          "DRIVER_FAILED",
          `microvm-run of VM ${name} exited during startup (code ${exit.code}, signal ${exit.signal})${output ? `; it said: ${output}` : ""}`,
        );
      }
      this.log.info({ vm: name, pid: own.pid, runner, uid: jailed?.uid }, "VM started");
      return { pid: own.pid, startedAt };
    });
  }

  async stop(name: string, options: StopOptions): Promise<StopMethod> {
    const paths = this.paths(name);
    return this.locks.run(name, async () => {
      const runtime = await this.inspect(name);
      let method: StopMethod = "not-running";
      if (runtime.state === "running") {
        const began = this.opts.clock.now();
        const layout = await this.bootedLayout(paths);
        const { pid } = runtime;
        method = await escalateStop({
          pid,
          stateDir: paths.stateDir,
          options,
          clock: this.opts.clock,
          logger: this.log,
          steps: {
            graceful: async (budgetMs) => {
              const shutdown = layout?.helpers["microvm-shutdown"];
              if (!shutdown) return false;
              const outcome = await runHelper(
                shutdown,
                paths.stateDir,
                paths.consoleLog,
                budgetMs,
                this.opts.clock,
              );
              // Returning is not the VM being down; escalateStop waits for the process next.
              if (outcome.code !== 0 && !outcome.timedOut) {
                this.log.warn({ vm: name, outcome: describeOutcome(outcome) }, "microvm-shutdown failed");
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
          },
        });
        const own = this.children.get(name);
        if (own?.pid === pid) await withTimeout(this.opts.clock, own.exited, REAP_GRACE_MS);
        this.log.info({ vm: name, pid, method, ms: this.opts.clock.now() - began }, "VM stopped");
      }
      await this.cleanUpAfterExit(name, paths);
      const left = await this.opts.jail?.leave(name);
      if (left) this.log.warn({ vm: name, killed: left }, "killed processes the VM left in its cgroup");
      return method;
    });
  }

  async inspect(name: string): Promise<VmRuntime> {
    const paths = this.paths(name);
    // Synchronous for the common case of no state at all, as in the qemu driver.
    if (!existsSync(paths.stateDir)) return { state: "absent" };
    const record = await readRecordFile<MicrovmLaunchRecord>(paths.launchRecord);
    return processRuntime({
      stateDir: paths.stateDir,
      pid: record?.pid,
      startedAt: record?.startedAt,
      own: this.children.get(name),
      clock: this.opts.clock,
    });
  }

  /** Interfaces down and virtiofsd stopped; the out-link goes with the state dir (no GC root left). */
  protected override async beforeRemove(name: string): Promise<void> {
    const paths = this.paths(name);
    await this.cleanUpAfterExit(name, paths);
    await this.opts.jail?.leave(name);
    const uid = (await stat(paths.stateDir).catch(() => undefined))?.uid;
    if (uid !== undefined) await this.opts.jail?.release(paths.stateDir, uid);
  }

  /**
   * The VM's uid, files and cgroups when the node jails VMs. The runner's kernel is its own: its view
   * holds the runner's package and the Nix store, where a built runner's whole closure lives.
   */
  private async enterJail(
    name: string,
    spec: VmSpec,
    paths: MicrovmPaths,
    runner: string,
  ): Promise<JailedVm | undefined> {
    if (!this.opts.jail) return undefined;
    const volumes = spec.microvm?.volumes ?? [];
    const jailed = await this.opts.jail.enter(
      name,
      paths.stateDir,
      spec,
      {},
      { writable: runnerWritable(volumes), readOnlyDirs: [runner], devices: this.opts.devices ?? [] },
    );
    this.log.debug({ vm: name, uid: jailed.uid, cgroups: jailed.cgroupDirs }, "jail ready");
    return jailed;
  }

  private async build(
    name: string,
    paths: MicrovmPaths,
    userFlake: boolean,
    key: string,
    progress: ProgressFn,
  ): Promise<void> {
    // The lock of a user's flake is taken afresh, so the build sees that flake as it is now (its own
    // flake.lock pins its inputs). A generated flake keeps its lock: the nixpkgs of the first build.
    if (userFlake) await rm(`${paths.flakeDir}/flake.lock`, { force: true });
    const command = nixBuildCommand(this.nix, paths.flakeDir, name, paths.current);
    progress({ step: "building the runner with nix", fraction: 0.1 });
    const began = this.opts.clock.now();
    await runNixBuild({
      command,
      cwd: paths.stateDir,
      logFile: paths.consoleLog,
      timeoutMs: this.opts.buildTimeoutMs ?? 2 * 60 * 60_000,
      vm: name,
      clock: this.opts.clock,
      progress,
    });
    const runner = await realpath(paths.current);
    await readRunner(runner);
    await writeBuildRecord(paths.buildRecord, { key, runner });
    this.log.info({ vm: name, runner, ms: this.opts.clock.now() - began }, "runner built");
  }

  private async runRequired(
    name: string,
    helper: string,
    script: string,
    paths: MicrovmPaths,
  ): Promise<void> {
    const budget = this.opts.helperTimeoutMs ?? 60_000;
    const outcome = await runHelper(script, paths.stateDir, paths.consoleLog, budget, this.opts.clock);
    if (outcome.code === 0) return;
    throw new BlixardError(
      "DRIVER_FAILED",
      `${helper} of VM ${name} ${describeOutcome(outcome)}; its output is in blixard vm logs ${name}` +
        " (creating tap and macvtap interfaces needs CAP_NET_ADMIN: see docs/nixos.md)",
    );
  }

  private async runDownHelpers(name: string, layout: RunnerLayout | undefined, paths: MicrovmPaths) {
    for (const helper of ["tap-down", "macvtap-down"] as const) {
      const script = layout?.helpers[helper];
      if (!script) continue;
      const budget = this.opts.helperTimeoutMs ?? 60_000;
      const outcome = await runHelper(script, paths.stateDir, paths.consoleLog, budget, this.opts.clock);
      if (outcome.code !== 0)
        this.log.warn({ vm: name, helper, outcome: describeOutcome(outcome) }, "helper failed");
    }
  }

  /**
   * What microvm.nix's units do once a VM is down: tap-down and macvtap-down, virtiofsd stopped,
   * `booted` removed. Also run before a start, for a VM that went down by itself. Only when the VM
   * is really down: interfaces are never taken from a running VM.
   */
  private async cleanUpAfterExit(name: string, paths: MicrovmPaths): Promise<void> {
    if (!(await isLink(paths.booted))) return;
    const record = await readRecordFile<MicrovmLaunchRecord>(paths.launchRecord);
    if (record && (await isVmProcess(record.pid, paths.stateDir))) return;
    await stopVirtiofsd(this.virtiofsd(name, paths), record?.virtiofsdPid);
    await this.runDownHelpers(name, await this.bootedLayout(paths), paths);
    await rm(paths.booted, { force: true });
  }

  private async bootedLayout(paths: MicrovmPaths): Promise<RunnerLayout | undefined> {
    const runner = await realpath(paths.booted).catch(() => undefined);
    return runner === undefined ? undefined : readRunner(runner).catch(() => undefined);
  }

  /** The node's own names in a jailed VM's state dir, taken back from whatever the VM put there. */
  private async reclaim(name: string, paths: MicrovmPaths): Promise<void> {
    if (!this.opts.jail) return;
    const removed = await reclaimNodeNames(paths.stateDir);
    if (removed.length > 0)
      this.log.warn({ vm: name, removed }, "removed files the VM put in the node's place");
  }

  private virtiofsd(name: string, paths: MicrovmPaths): VirtiofsdContext {
    return { name, paths, log: this.log, clock: this.opts.clock };
  }

  protected files(name: string): MicrovmPaths {
    return this.paths(name);
  }

  private paths(name: string): MicrovmPaths {
    return microvmPaths(this.opts.vmsDir, name);
  }
}
