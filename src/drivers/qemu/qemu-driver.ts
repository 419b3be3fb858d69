/**
 * The qemu VmDriver: each VM is a qemu process detached into its own session, with its pidfile, QMP
 * socket, serial log and launch record in `<vmsDir>/<name>/`. The process outlives the agent, and a
 * restarted agent re-adopts it from those files. Exit codes are known only for VMs this process
 * spawned; a re-adopted VM that exits is reported with `known: false`.
 */
import { existsSync } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { VmSpec } from "../../core/vm-spec.js";
import { HostTools } from "../../net/host-tools.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type {
  AttachedVolume,
  ProgressFn,
  StartedVm,
  StartOptions,
  StopMethod,
  StopOptions,
  VmRuntime,
} from "../../ports/vm-driver.js";
import { jailedCommand, selfConfinedPlan } from "../jail/jail-command.js";
import { JAILED_ENV } from "../jail/jailed-env.js";
import type { JailedVm, VmJail } from "../jail/vm-jail.js";
import { CEPH_CLIENT_FILES, withCephClientFiles } from "../shared/ceph-client-files.js";
import { fileSize, readSince } from "../shared/console-log.js";
import { fileExists } from "../shared/files.js";
import { withTimeout } from "../shared/poll.js";
import { imageInfo } from "../shared/qemu-img.js";
import { readPidfile } from "../shared/record-file.js";
import { killQuietly, spawnVmProcess } from "../shared/spawn-vm-process.js";
import { StateDirDriver } from "../shared/state-dir-driver.js";
import { processRuntime, REAP_GRACE_MS } from "../shared/vm-process.js";
import type { Accel } from "./accel.js";
import { checkAttachment, plugTap, unplugTap } from "./bridge-tap.js";
import { ensureOverlay } from "./disk-overlay.js";
import { hostTscKhz } from "./host-tsc.js";
import { checkSpecFiles } from "./input-files.js";
import { launchPasst, stopPasst, unjailedPasst } from "./launch-passt.js";
import { readLaunchRecord, writeLaunchRecord } from "./launch-record.js";
import { passtArgs } from "./passt.js";
import { buildQemuArgs, qemuKernel } from "./qemu-args.js";
import { qmpOnce } from "./qmp-client.js";
import { stopVm } from "./stop-vm.js";
import { type VmPaths, vmPaths } from "./vm-paths.js";
import { waitUntilReady } from "./wait-ready.js";

export interface QemuDriverOptions {
  vmsDir: string;
  accel: Accel;
  qemuBinary?: string;
  qemuImgBinary?: string;
  logger: Logger;
  clock: Clock;
  /** How long a start may take until qemu has written its pidfile and answers QMP. */
  startTimeoutMs?: number;
  /** TSC frequency given to TCG guests; defaults to the host's (see host-tsc.ts), null to give none. */
  tcgTscKhz?: number | null;
  /** The jail every qemu and passt runs in; unset only with `--isolation none`. */
  jail?: VmJail;
  passtBinary?: string;
  /** Runs ip for the taps of bridge-mode VMs (a test binds it to a network namespace). */
  net?: HostTools;
}

/** The jailed qemu of a bridge-mode VM opens its tap through this device. */
const TUN_DEVICE = "/dev/net/tun";

/** Longest unix socket path (sun_path is 108 bytes including the terminating NUL). */
const MAX_SOCKET_PATH = 107;

export class QemuDriver extends StateDirDriver {
  readonly name = "qemu";

  private readonly qemuBinary: string;
  private readonly qemuImgBinary: string;
  private readonly passtBinary: string;
  private readonly tscKhz: number | undefined;
  private readonly net: HostTools;

  constructor(private readonly opts: QemuDriverOptions) {
    super(opts.logger.child({ component: "qemu-driver" }), opts.vmsDir, opts.clock);
    this.qemuBinary = opts.qemuBinary ?? "qemu-system-x86_64";
    this.qemuImgBinary = opts.qemuImgBinary ?? "qemu-img";
    this.passtBinary = opts.passtBinary ?? "passt";
    this.net = opts.net ?? new HostTools();
    const tsc = opts.tcgTscKhz === undefined ? hostTscKhz() : opts.tcgTscKhz;
    this.tscKhz = opts.accel === "tcg" ? (tsc ?? undefined) : undefined;
    this.log.info(
      { accel: opts.accel, tscKhz: this.tscKhz, vmsDir: opts.vmsDir, jailed: opts.jail !== undefined },
      "qemu driver ready",
    );
  }

  async prepare(name: string, spec: VmSpec, progress?: ProgressFn): Promise<void> {
    const paths = this.paths(name);
    await this.serialize(name, async () => {
      progress?.({ step: "checking kernel, initrd and disk", fraction: 0 });
      await checkSpecFiles(spec);
      progress?.({ step: "creating state directory", fraction: 0.3 });
      await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
      if (spec.disk) {
        progress?.({ step: "creating copy-on-write disk overlay", fraction: 0.5 });
        const exists = await fileExists(paths.diskOverlay);
        const outcome = await ensureOverlay(this.qemuImgBinary, spec.disk, paths.diskOverlay, exists);
        this.log.info(
          { vm: name, base: spec.disk, overlay: paths.diskOverlay, outcome },
          "disk overlay ready",
        );
      }
      progress?.({ step: "prepared", fraction: 1 });
    });
  }

  async start(name: string, spec: VmSpec, options?: StartOptions): Promise<StartedVm> {
    const bridge = options?.bridge ? checkAttachment(name, options.bridge) : undefined;
    const paths = this.paths(name);
    return this.serialize(name, async () => {
      for (const socket of [paths.qmpSocket, paths.passtSocket]) {
        if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
          throw new BlixardError(
            "FAILED_PRECONDITION",
            `socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter data dir`,
          );
        }
      }
      const current = await this.inspect(name);
      if (current.state === "running") {
        throw new BlixardError("FAILED_PRECONDITION", `VM ${name} is already running as pid ${current.pid}`);
      }
      await checkSpecFiles(spec);
      await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
      if (spec.disk && !(await fileExists(paths.diskOverlay))) {
        throw new BlixardError("FAILED_PRECONDITION", `VM ${name} has no disk overlay yet; prepare it first`);
      }
      // Leftovers of a killed qemu; qemu would replace them, but a stale pidfile must never be read as ours.
      await rm(paths.pidfile, { force: true });
      await rm(paths.qmpSocket, { force: true });

      // A passt left from the last run (its qemu died while this node was down) goes first, and so
      // does a tap of a run in bridge mode when this one is not (the same tap is re-owned below).
      const last = await readLaunchRecord(paths.launchRecord);
      await stopPasst(last?.passtPid, paths.stateDir);
      if (last?.bridge && last.bridge.tap !== bridge?.tap) {
        await unplugTap(this.net, last.bridge, await this.stateDirUid(paths));
      }
      // RBD volumes: librbd in the jailed qemu reads a client conf and keyring copy in the state dir.
      const volumes = await withCephClientFiles(paths.stateDir, options?.volumes ?? []);
      const jailed = await this.enterJail(name, spec, paths, bridge !== undefined, volumes);
      const wrap = (program: string, args: string[]) =>
        jailed ? jailedCommand(jailed.plan, program, args) : [program, ...args];
      const env = jailed ? JAILED_ENV : undefined;
      // Bridge mode: the tap, owned by the VM's uid, replaces passt.
      if (bridge)
        await plugTap(this.net, bridge, jailed ? { uid: jailed.uid, gid: jailed.plan.gid } : undefined);
      const passt = bridge
        ? undefined
        : await launchPasst({
            command: jailed
              ? jailedCommand(
                  selfConfinedPlan(jailed.plan),
                  this.passtBinary,
                  passtArgs(spec, paths.passtSocket),
                )
              : await unjailedPasst(this.passtBinary, passtArgs(spec, paths.passtSocket), paths.stateDir),
            paths,
            clock: this.opts.clock,
            env,
          });
      const diskFormat =
        spec.disk && jailed ? (await imageInfo(this.qemuImgBinary, spec.disk)).format : undefined;
      const argv = buildQemuArgs(name, spec, paths, this.opts.accel, {
        tscKhz: this.tscKhz,
        ...(jailed ? { inputs: jailed.inputs } : {}),
        ...(diskFormat ? { diskFormat } : {}),
        ...(bridge ? { bridge } : {}),
        ...(volumes.length > 0 ? { volumes: jailed ? jailedVolumes(volumes, jailed.volumes) : volumes } : {}),
      });
      const [binary, ...args] = wrap(this.qemuBinary, argv) as [string, ...string[]];
      const stderrOffset = await fileSize(paths.stderrLog);
      let own: Awaited<ReturnType<typeof spawnVmProcess>>;
      try {
        own = await spawnVmProcess(
          binary,
          args,
          paths.stateDir,
          paths.stderrLog,
          (exit, pid) => this.log.info({ vm: name, pid, ...exit }, "qemu exited"),
          "is qemu-system-x86 installed?",
          env,
        );
      } catch (err) {
        await stopPasst(passt?.pid, paths.stateDir);
        await unplugTap(this.net, bridge, jailed?.uid);
        throw err;
      }
      this.children.set(name, own);
      const { pid } = own;
      const startedAt = this.opts.clock.now();
      // Recorded before waiting, so that an agent crashing mid-start still finds the process.
      await writeLaunchRecord(paths.launchRecord, {
        name,
        pid,
        startedAt,
        accel: this.opts.accel,
        qemuBinary: this.qemuBinary,
        argv,
        spec,
        ...(passt ? { passtPid: passt.pid } : {}),
        ...(bridge ? { bridge } : {}),
        ...(jailed
          ? { jail: { uid: jailed.uid, cgroups: jailed.cgroupDirs, command: [binary, ...args] } }
          : {}),
      });

      const problem = await waitUntilReady({
        pid,
        paths,
        clock: this.opts.clock,
        timeoutMs: this.opts.startTimeoutMs ?? 10_000,
        exited: () => own.exit,
      });
      if (problem) {
        if (!own.exit) killQuietly(pid);
        const exit = await withTimeout(this.opts.clock, own.exited, 2_000);
        await stopPasst(passt?.pid, paths.stateDir);
        await unplugTap(this.net, bridge, jailed?.uid);
        const stderr = (await readSince(paths.stderrLog, stderrOffset, 2_000)).trim();
        this.log.error({ vm: name, pid, exit, problem }, "qemu failed to start");
        throw new BlixardError(
          "DRIVER_FAILED",
          `qemu for VM ${name} failed to start: ${problem}${stderr ? `; qemu said: ${stderr}` : ""}`,
        );
      }
      if (!bridge) await this.announceGuest(name, paths);
      this.log.info(
        { vm: name, pid, accel: this.opts.accel, readyMs: this.opts.clock.now() - startedAt },
        "VM started",
      );
      return { pid, startedAt };
    });
  }

  async stop(name: string, options: StopOptions): Promise<StopMethod> {
    const paths = this.paths(name);
    return this.serialize(name, async () => {
      const runtime = await this.inspect(name);
      let method: StopMethod = "not-running";
      if (runtime.state === "running") {
        const began = this.opts.clock.now();
        method = await stopVm({ pid: runtime.pid, paths, options, clock: this.opts.clock, logger: this.log });
        // Let Node reap our own child so that inspect reports its exit status.
        const own = this.children.get(name);
        if (own?.pid === runtime.pid) await withTimeout(this.opts.clock, own.exited, REAP_GRACE_MS);
        this.log.info(
          { vm: name, pid: runtime.pid, method, ms: this.opts.clock.now() - began },
          "VM stopped",
        );
      }
      // passt normally ends with qemu; one that did not (qemu killed before it connected) goes now.
      const record = await readLaunchRecord(paths.launchRecord);
      await stopPasst(record?.passtPid, paths.stateDir);
      // The tap is made again at the next start: a stopped VM leaves no port on the bridge.
      await unplugTap(this.net, record?.bridge, await this.stateDirUid(paths));
      await this.opts.jail?.leave(name);
      await rm(paths.pidfile, { force: true });
      await rm(paths.qmpSocket, { force: true });
      return method;
    });
  }

  async inspect(name: string): Promise<VmRuntime> {
    const paths = this.paths(name);
    // Synchronous: the agent inspects every VM it re-checks, and a missing directory is the common case,
    // which the promise API reports by building an exception (~50 µs against ~1 µs).
    if (!existsSync(paths.stateDir)) return { state: "absent" };
    const record = await readLaunchRecord(paths.launchRecord);
    const pid = record?.pid ?? (await readPidfile(paths.pidfile));
    return processRuntime({
      stateDir: paths.stateDir,
      pid,
      startedAt: record?.startedAt,
      own: this.children.get(name),
      clock: this.opts.clock,
    });
  }

  /**
   * passt learns the guest's MAC address from the first frame the guest sends; until then a
   * connection to a forwarded port is lost. A guest with static addresses that sends nothing (the
   * test image) would lose its first one, so qemu announces the NIC (RARP, as after a migration).
   */
  private async announceGuest(name: string, paths: VmPaths): Promise<void> {
    try {
      await qmpOnce(
        paths.qmpSocket,
        "announce-self",
        { initial: 50, max: 550, rounds: 1, step: 100 },
        {
          clock: this.opts.clock,
          timeoutMs: 1_000,
        },
      );
    } catch (err) {
      this.log.warn({ vm: name, err: errorMessage(err) }, "could not announce the guest's NIC to passt");
    }
  }

  /** Sets up the VM's uid, files and cgroups when the node jails VMs. */
  private async enterJail(
    name: string,
    spec: VmSpec,
    paths: VmPaths,
    tap: boolean,
    volumes: readonly AttachedVolume[],
  ): Promise<JailedVm | undefined> {
    if (!this.opts.jail) return undefined;
    const inputs = {
      kernel: qemuKernel(spec),
      ...(spec.initrd ? { initrd: spec.initrd } : {}),
      ...(spec.disk ? { disk: spec.disk } : {}),
    };
    const jailed = await this.opts.jail.enter(name, paths.stateDir, spec, inputs, {
      devices: [...(this.opts.accel === "kvm" ? ["/dev/kvm"] : []), ...(tap ? [TUN_DEVICE] : [])],
      programs: [this.qemuBinary],
      ...(volumes.some((v) => v.source.kind === "rbd") ? { writable: [...CEPH_CLIENT_FILES] } : {}),
      volumes: volumes.flatMap((v) =>
        v.source.kind === "file" ? [{ path: v.source.path, readOnly: v.readOnly }] : [],
      ),
    });
    this.log.debug({ vm: name, uid: jailed.uid, cgroups: jailed.cgroupDirs }, "jail ready");
    return jailed;
  }

  protected override async beforeRemove(name: string): Promise<void> {
    const paths = this.paths(name);
    const record = await readLaunchRecord(paths.launchRecord);
    await stopPasst(record?.passtPid, paths.stateDir);
    const uid = await this.stateDirUid(paths);
    await unplugTap(this.net, record?.bridge, uid);
    await this.opts.jail?.leave(name);
    if (uid !== undefined) await this.opts.jail?.release(paths.stateDir, uid);
  }

  /** The uid the VM's state dir belongs to: its jail uid, or root's when unjailed. */
  private async stateDirUid(paths: VmPaths): Promise<number | undefined> {
    return (await stat(paths.stateDir).catch(() => undefined))?.uid;
  }

  protected files(name: string): VmPaths {
    return this.paths(name);
  }

  private paths(name: string): VmPaths {
    return vmPaths(this.opts.vmsDir, name);
  }

  private serialize<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(name, fn);
  }
}

/** The volumes as the jailed qemu sees them: each file-backed one at its place in the view. */
function jailedVolumes(volumes: readonly AttachedVolume[], seen: readonly string[]): AttachedVolume[] {
  let next = 0;
  return volumes.map((v) =>
    v.source.kind === "file" ? { ...v, source: { ...v.source, path: seen[next++]! } } : v,
  );
}
