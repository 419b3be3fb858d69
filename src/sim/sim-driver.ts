/**
 * A simulated hypervisor for one node: VMs that take virtual time to boot and stop, and faults drawn
 * from a seeded Random (failed starts, crashes, guests that ignore a graceful stop). The VMs outlive
 * an agent restart, as qemu processes do, and die with a node crash.
 */
import type { VmRuntime } from "../core/runtime.js";
import type { VmSpec } from "../core/vm-spec.js";
import type { Clock } from "../ports/clock.js";
import type {
  DriverCapabilities,
  LogStream,
  LogTail,
  StartedVm,
  StopMethod,
  StopOptions,
  VmDriver,
} from "../ports/vm-driver.js";
import { inMemoryLogStream } from "../testing/in-memory-log-stream.js";
import type { SeededRandom } from "./seeded-random.js";

export interface DriverFaults {
  /** Virtual boot time, drawn uniformly from [min, max] ms. */
  bootMs: [number, number];
  /** Probability that a start fails. */
  failStart: number;
  /** Probability that a guest ignores Ctrl-Alt-Del, so stops escalate. */
  ignoreGraceful: number;
}

interface SimVm {
  runtime: VmRuntime;
  log: string;
  ignoresGraceful: boolean;
}

export class SimDriver implements VmDriver {
  readonly name = "sim";
  readonly capabilities: DriverCapabilities = { migrate: false, snapshot: false, balloon: false };
  private readonly vms = new Map<string, SimVm>();
  private nextPid: number;

  constructor(
    private readonly clock: Clock,
    private readonly random: SeededRandom,
    public faults: DriverFaults,
    pidBase: number,
  ) {
    this.nextPid = pidBase;
  }

  async prepare(name: string, _spec: VmSpec): Promise<void> {
    if (!this.vms.has(name))
      this.vms.set(name, { runtime: { state: "absent" }, log: "", ignoresGraceful: false });
  }

  /** `cancelled` tells whether the caller died meanwhile: a launch it never finished does not happen. */
  async start(name: string, _spec: VmSpec, cancelled: () => boolean = () => false): Promise<StartedVm> {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`start before prepare: ${name}`);
    if (vm.runtime.state === "running") throw new Error(`${name} is already running`);
    const [min, max] = this.faults.bootMs;
    await this.clock.sleep(min + this.random.next() * (max - min));
    if (cancelled()) throw new Error("caller died during start");
    // Another agent incarnation may have started it while this one slept.
    if ((vm.runtime as VmRuntime).state === "running") throw new Error(`${name} is already running`);
    if (this.random.chance(this.faults.failStart)) throw new Error("simulated start failure");
    const started = { pid: this.nextPid++, startedAt: this.clock.now() };
    vm.runtime = { state: "running", ...started };
    vm.ignoresGraceful = this.random.chance(this.faults.ignoreGraceful);
    vm.log += `BLIXARD-READY name=${name}\n`;
    return started;
  }

  /** A guest that ignores Ctrl-Alt-Del is quit after the graceful timeout, unless the caller died first. */
  async stop(
    name: string,
    options: StopOptions,
    cancelled: () => boolean = () => false,
  ): Promise<StopMethod> {
    const vm = this.vms.get(name);
    if (vm?.runtime.state !== "running") return "not-running";
    let method: StopMethod = "graceful";
    if (vm.ignoresGraceful) {
      await this.clock.sleep(options.gracefulTimeoutMs);
      if (cancelled()) throw new Error("caller died during stop");
      method = "quit";
    }
    if (vm.runtime.state === "running")
      vm.runtime = { state: "exited", exit: { code: 0, signal: null, known: true } };
    return method;
  }

  async inspect(name: string): Promise<VmRuntime> {
    return this.vms.get(name)?.runtime ?? { state: "absent" };
  }

  adopt(name: string): Promise<VmRuntime> {
    return this.inspect(name);
  }

  async logs(name: string, tail?: number): Promise<LogTail> {
    const text = this.vms.get(name)?.log ?? "";
    const lines = text.split("\n");
    const shown = tail === undefined ? text : lines.slice(Math.max(0, lines.length - 1 - tail)).join("\n");
    return { text: shown, offset: text.length };
  }

  /** `logs` cut into pieces of at most `chunkBytes` characters. */
  streamLogs(name: string, tail?: number, chunkBytes = 64 * 1024): LogStream {
    return inMemoryLogStream(() => this.logs(name, tail), chunkBytes);
  }

  async logSize(name: string): Promise<number> {
    return this.vms.get(name)?.log.length ?? 0;
  }

  async *followLogs(name: string, offset: number, signal: AbortSignal): AsyncIterable<string> {
    let position = offset;
    while (!signal.aborted) {
      const text = this.vms.get(name)?.log ?? "";
      if (text.length > position) {
        yield text.slice(position);
        position = text.length;
      }
      await this.clock.sleep(100, signal).catch(() => undefined);
    }
  }

  async list(): Promise<string[]> {
    return [...this.vms.keys()].sort();
  }

  async remove(name: string): Promise<void> {
    if (this.vms.get(name)?.runtime.state === "running") throw new Error(`${name} is running`);
    this.vms.delete(name);
  }

  /** Fault: the VM's process dies. */
  crash(name: string): void {
    const vm = this.vms.get(name);
    if (vm?.runtime.state === "running") {
      vm.runtime = { state: "exited", exit: { code: null, signal: "SIGKILL", known: true } };
    }
  }

  /** Planted bugs only: a process of this VM runs here that no agent started (a leak, a stray copy). */
  spawn(name: string): void {
    const vm = this.vms.get(name) ?? { runtime: { state: "absent" }, log: "", ignoresGraceful: false };
    vm.runtime = { state: "running", pid: this.nextPid++, startedAt: this.clock.now() };
    this.vms.set(name, vm);
  }

  /** Fault: the host reboots; every VM dies with it. */
  crashAll(): void {
    for (const name of this.vms.keys()) this.crash(name);
  }

  /** Names of the VMs whose process runs now; for invariant checks. */
  running(): string[] {
    return [...this.vms.entries()].filter(([, vm]) => vm.runtime.state === "running").map(([name]) => name);
  }
}
