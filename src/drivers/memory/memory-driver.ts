/**
 * The in-memory VmDriver, used by unit tests and the simulator (as store/memory is the in-memory
 * Store). One instance is one agent's driver on a MemoryHost; a new instance on the same host is the
 * agent after a restart, which re-adopts what still runs. Where the old test fake and the
 * simulator's driver disagreed, this follows the qemu driver, which `runDriverContract` holds all of
 * them to:
 * - a start needs no prepare (qemu's start makes the state dir), but refuses a running VM with
 *   FAILED_PRECONDITION, as remove refuses one; logs of a VM with no state are NOT_FOUND;
 * - an exit status is known only to the driver instance that started the process: after a restart
 *   it is unknown (`known: false`), as for a qemu that the agent did not spawn;
 * - log offsets and chunk sizes are bytes, and `list` is sorted;
 * - a guest that ignores Ctrl-Alt-Del costs the whole graceful timeout before the quit.
 * `revoke()` is the agent dying: every later call fails, and a call in flight has no effect after it
 * returns, as a dead process does nothing more.
 */
import { BlixardError } from "../../core/errors.js";
import { nameProblem } from "../../core/names.js";
import type { VmRuntime } from "../../core/runtime.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type {
  DriverCapabilities,
  LogStream,
  LogTail,
  ProgressFn,
  RemoveOptions,
  StartedVm,
  StartOptions,
  StopMethod,
  StopOptions,
  VmDriver,
} from "../../ports/vm-driver.js";
import type { MemoryCall, MemoryHost } from "./memory-host.js";
import { followOf, streamOf, tailOf } from "./memory-logs.js";

export class MemoryDriver implements VmDriver {
  readonly capabilities: DriverCapabilities = { migrate: false, snapshot: false, balloon: false };
  private revoked = false;

  constructor(
    readonly host: MemoryHost,
    readonly name = "memory",
  ) {}

  /** Every call on the host (this driver's and earlier instances'), in order. */
  get calls(): MemoryCall[] {
    return this.host.calls;
  }

  starts(name: string): number {
    return this.host.calls.filter((c) => c.op === "start" && c.name === name).length;
  }

  /** The agent that holds this driver died. */
  revoke(): void {
    this.revoked = true;
  }

  async prepare(name: string, spec: VmSpec, progress?: ProgressFn): Promise<void> {
    this.enter(name);
    this.host.calls.push({ op: "prepare", name });
    this.checkFiles(spec);
    if (this.host.failPrepares > 0) {
      this.host.failPrepares--;
      throw new BlixardError("DRIVER_FAILED", `injected prepare failure of VM ${name}`);
    }
    this.host.ensure(name);
    progress?.({ step: "prepared", fraction: 1 });
  }

  async start(name: string, spec: VmSpec, options?: StartOptions): Promise<StartedVm> {
    this.enter(name);
    const host = this.host;
    host.calls.push({ op: "start", name });
    this.refuseRunning(name, "start it again");
    this.checkFiles(spec);
    // As qemu's start makes the state dir before it launches anything: a failed start leaves it.
    const vm = host.ensure(name);
    if (host.failStarts > 0) {
      host.failStarts--;
      throw new BlixardError("DRIVER_FAILED", `injected start failure of VM ${name}`);
    }
    const [min, max] = host.faults.bootMs;
    const bootMs = min + (host.random ? host.random.next() : 0) * (max - min);
    if (bootMs > 0) await host.clock.sleep(bootMs);
    this.live("start");
    // Another agent incarnation may have started it while this one waited.
    this.refuseRunning(name, "start it again");
    if (host.chance(host.faults.failStart)) {
      throw new BlixardError("DRIVER_FAILED", `simulated start failure of VM ${name}`);
    }
    const started = { pid: host.pid(), startedAt: host.clock.now() };
    vm.runtime = { state: "running", ...started };
    vm.startedBy = this;
    vm.resources = { vcpus: spec.vcpus, memoryMiB: spec.memory };
    if (options?.bridge) vm.bridge = options.bridge;
    else delete vm.bridge;
    if (host.random) vm.ignoresGraceful = host.chance(host.faults.ignoreGraceful);
    vm.log += `boot ${started.pid}\nBLIXARD-READY name=${name}\n`;
    return started;
  }

  async stop(name: string, options: StopOptions): Promise<StopMethod> {
    this.enter(name);
    const host = this.host;
    const vm = host.vm(name);
    if (vm?.runtime.state !== "running") {
      host.calls.push({ op: "stop", name, detail: "not-running" });
      return "not-running";
    }
    if (host.failStops > 0) {
      host.failStops--;
      host.calls.push({ op: "stop", name, detail: "failed" });
      throw new BlixardError("DRIVER_FAILED", `VM process ${vm.runtime.pid} is still running after SIGKILL`);
    }
    let method: StopMethod = "graceful";
    if (vm.ignoresGraceful) {
      await host.clock.sleep(options.gracefulTimeoutMs);
      this.live("stop");
      method = "quit";
    }
    host.calls.push({ op: "stop", name, detail: method });
    // Both a poweroff and qemu's quit end the process with status 0.
    if (vm.runtime.state === "running") {
      vm.runtime = { state: "exited", exit: { code: 0, signal: null, known: true } };
    }
    return method;
  }

  async inspect(name: string): Promise<VmRuntime> {
    this.enter(name);
    const vm = this.host.vm(name);
    if (!vm) return { state: "absent" };
    if (vm.runtime.state === "exited" && vm.startedBy !== this) {
      return { state: "exited", exit: { code: null, signal: null, known: false } };
    }
    return vm.runtime;
  }

  async adopt(name: string): Promise<VmRuntime> {
    this.enter(name);
    this.host.calls.push({ op: "adopt", name });
    return this.inspect(name);
  }

  async logs(name: string, tail?: number): Promise<LogTail> {
    this.enter(name);
    return tailOf(this.logOf(name), tail);
  }

  streamLogs(name: string, tail?: number, chunkBytes = 64 * 1024): LogStream {
    checkName(name);
    return streamOf(async () => tailOf(this.logOf(name), tail), chunkBytes);
  }

  followLogs(name: string, offset: number, signal: AbortSignal): AsyncIterable<string> {
    checkName(name);
    return followOf(() => this.host.vm(name)?.log ?? "", offset, signal, this.host.clock);
  }

  async logSize(name: string): Promise<number> {
    this.enter(name);
    return Buffer.byteLength(this.host.vm(name)?.log ?? "");
  }

  async list(): Promise<string[]> {
    this.live("list");
    return this.host.names();
  }

  async remove(name: string, options?: RemoveOptions): Promise<void> {
    this.enter(name);
    const host = this.host;
    host.calls.push({ op: options?.quarantine ? "quarantine" : "remove", name });
    this.refuseRunning(name, "stop it before removing it");
    const vm = host.vm(name);
    if (vm && options?.quarantine) {
      host.quarantined.push({ name, reason: options.quarantine.reason, log: vm.log });
    }
    host.delete(name);
  }

  private enter(name: string): void {
    this.live("call");
    checkName(name);
  }

  private live(what: string): void {
    if (this.revoked)
      throw new BlixardError("UNAVAILABLE", `the agent that holds this driver died (${what})`);
  }

  private refuseRunning(name: string, fix: string): void {
    const runtime = this.host.inspect(name);
    if (runtime.state === "running") {
      throw new BlixardError("FAILED_PRECONDITION", `VM ${name} is running as pid ${runtime.pid}; ${fix}`);
    }
  }

  /** As the qemu driver's checkSpecFiles and microvm-nix's runner check: before anything is made. */
  private checkFiles(spec: VmSpec): void {
    const named = { kernel: spec.kernel, initrd: spec.initrd, disk: spec.disk, runner: spec.microvm?.runner };
    for (const [field, file] of Object.entries(named)) {
      if (file !== undefined && this.host.missingFiles.has(file)) {
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `${field} ${file} does not exist on this node; fix spec.${field}`,
        );
      }
    }
  }

  private logOf(name: string): string {
    const vm = this.host.vm(name);
    if (!vm) throw new BlixardError("NOT_FOUND", `VM ${name} has no state on this node, so no console log`);
    return vm.log;
  }
}

/** As the real drivers' paths do: a name becomes a directory, so a bad one is refused. */
function checkName(name: string): void {
  const problem = nameProblem(name);
  if (problem) {
    throw new BlixardError("INVALID_ARGUMENT", `invalid VM name ${JSON.stringify(name)}: ${problem}`);
  }
}
