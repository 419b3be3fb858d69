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
import { stat } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type {
  ProgressFn,
  StartedVm,
  StartOptions,
  StopMethod,
  StopOptions,
  VmRuntime,
} from "../../ports/vm-driver.js";
import { withTimeout } from "../shared/poll.js";
import { readRecordFile } from "../shared/record-file.js";
import { StateDirDriver } from "../shared/state-dir-driver.js";
import { escalateStop } from "../shared/stop-escalation.js";
import { processRuntime, REAP_GRACE_MS } from "../shared/vm-process.js";
import { bootedLayout, cleanUpAfterExit } from "./after-exit.js";
import type { MicrovmNixDriverOptions, VmContext } from "./driver-options.js";
import { launchRunner } from "./launch-runner.js";
import { type MicrovmPaths, microvmPaths } from "./microvm-paths.js";
import type { MicrovmLaunchRecord } from "./microvm-record.js";
import { prepareRunner } from "./prepare-runner.js";
import { microvmStopSteps } from "./stop-steps.js";

export type { MicrovmNixDriverOptions } from "./driver-options.js";

export class MicrovmNixDriver extends StateDirDriver {
  readonly name = "microvm-nix";

  constructor(private readonly opts: MicrovmNixDriverOptions) {
    super(opts.logger.child({ component: "microvm-nix-driver" }), opts.vmsDir, opts.clock);
  }

  async prepare(name: string, spec: VmSpec, report?: ProgressFn): Promise<void> {
    const ctx = this.context(name);
    await this.locks.run(name, () => prepareRunner(ctx, spec, report));
  }

  async start(name: string, spec: VmSpec, options?: StartOptions): Promise<StartedVm> {
    if (options?.bridge) {
      // The spec check refuses bridge mode for this driver; this guards a caller that skipped it.
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `VM ${name}: the microvm-nix driver has no bridge networking`,
      );
    }
    const ctx = this.context(name);
    return this.locks.run(name, async () => {
      const current = await this.inspect(name);
      if (current.state === "running") {
        throw new BlixardError("FAILED_PRECONDITION", `VM ${name} is already running as pid ${current.pid}`);
      }
      return launchRunner(ctx, spec, (own) => this.children.set(name, own));
    });
  }

  async stop(name: string, options: StopOptions): Promise<StopMethod> {
    const ctx = this.context(name);
    return this.locks.run(name, async () => {
      const runtime = await this.inspect(name);
      let method: StopMethod = "not-running";
      if (runtime.state === "running") {
        const began = this.opts.clock.now();
        const { pid } = runtime;
        const steps = microvmStopSteps(ctx, pid, await bootedLayout(ctx.paths));
        const { stateDir } = ctx.paths;
        method = await escalateStop({
          pid,
          stateDir,
          options,
          clock: this.opts.clock,
          logger: this.log,
          steps,
        });
        const own = this.children.get(name);
        if (own?.pid === pid) await withTimeout(this.opts.clock, own.exited, REAP_GRACE_MS);
        this.log.info({ vm: name, pid, method, ms: this.opts.clock.now() - began }, "VM stopped");
      }
      await cleanUpAfterExit(ctx);
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
    const ctx = this.context(name);
    await cleanUpAfterExit(ctx);
    await this.opts.jail?.leave(name);
    const uid = (await stat(ctx.paths.stateDir).catch(() => undefined))?.uid;
    if (uid !== undefined) await this.opts.jail?.release(ctx.paths.stateDir, uid);
  }

  protected files(name: string): MicrovmPaths {
    return this.paths(name);
  }

  private paths(name: string): MicrovmPaths {
    return microvmPaths(this.opts.vmsDir, name);
  }

  private context(name: string): VmContext {
    return { name, paths: this.paths(name), log: this.log, clock: this.opts.clock, opts: this.opts };
  }
}
