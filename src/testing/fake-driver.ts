/**
 * A Map-backed VmDriver for unit tests and the simulator. It records every call and has fault switches:
 * fail the next starts, crash a VM, make a VM ignore graceful stops. Processes are pretend pids.
 */
import type { VmRuntime } from "../core/runtime.js";
import type { VmSpec } from "../core/vm-spec.js";
import type { Clock } from "../ports/clock.js";
import type {
  DriverCapabilities,
  LogStream,
  LogTail,
  RemoveOptions,
  StartedVm,
  StopMethod,
  StopOptions,
  VmDriver,
} from "../ports/vm-driver.js";
import { inMemoryLogStream } from "./in-memory-log-stream.js";

interface FakeVm {
  runtime: VmRuntime;
  log: string;
  ignoresGracefulStop: boolean;
}

export type FakeCall = {
  op: "prepare" | "start" | "stop" | "remove" | "quarantine" | "adopt";
  name: string;
  detail?: string;
};

export class FakeDriver implements VmDriver {
  readonly name = "fake";
  readonly capabilities: DriverCapabilities = { migrate: false, snapshot: false, balloon: false };
  readonly calls: FakeCall[] = [];
  readonly vms = new Map<string, FakeVm>();
  /** Number of upcoming `start` calls that throw. */
  failStarts = 0;
  private nextPid = 1000;

  constructor(private readonly clock: Clock) {}

  async prepare(name: string, _spec: VmSpec): Promise<void> {
    this.calls.push({ op: "prepare", name });
    if (!this.vms.has(name))
      this.vms.set(name, { runtime: { state: "absent" }, log: "", ignoresGracefulStop: false });
  }

  async start(name: string, _spec: VmSpec): Promise<StartedVm> {
    this.calls.push({ op: "start", name });
    if (this.failStarts > 0) {
      this.failStarts--;
      throw new Error("injected start failure");
    }
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`start before prepare: ${name}`);
    if (vm.runtime.state === "running") throw new Error(`${name} is already running`);
    const started = { pid: this.nextPid++, startedAt: this.clock.now() };
    vm.runtime = { state: "running", ...started };
    vm.log += `boot ${started.pid}\nBLIXARD-READY name=${name}\n`;
    return started;
  }

  async stop(name: string, _options: StopOptions): Promise<StopMethod> {
    const vm = this.vms.get(name);
    const method: StopMethod =
      vm?.runtime.state !== "running" ? "not-running" : vm.ignoresGracefulStop ? "quit" : "graceful";
    this.calls.push({ op: "stop", name, detail: method });
    if (vm && vm.runtime.state === "running")
      vm.runtime = { state: "exited", exit: { code: 0, signal: null, known: true } };
    return method;
  }

  async inspect(name: string): Promise<VmRuntime> {
    return this.vms.get(name)?.runtime ?? { state: "absent" };
  }

  async adopt(name: string): Promise<VmRuntime> {
    this.calls.push({ op: "adopt", name });
    return this.inspect(name);
  }

  async logs(name: string, tail?: number): Promise<LogTail> {
    const text = this.vms.get(name)?.log ?? "";
    const offset = Buffer.byteLength(text);
    if (tail === undefined) return { text, offset };
    const lines = text.split("\n");
    return { text: lines.slice(Math.max(0, lines.length - 1 - tail)).join("\n"), offset };
  }

  /** `logs` cut into pieces of at most `chunkBytes` characters. */
  streamLogs(name: string, tail?: number, chunkBytes = 64 * 1024): LogStream {
    return inMemoryLogStream(() => this.logs(name, tail), chunkBytes);
  }

  async logSize(name: string): Promise<number> {
    return Buffer.byteLength(this.vms.get(name)?.log ?? "");
  }

  async *followLogs(name: string, offset: number, signal: AbortSignal): AsyncIterable<string> {
    let position = offset;
    while (!signal.aborted) {
      const text = Buffer.from(this.vms.get(name)?.log ?? "");
      if (text.length > position) {
        yield text.subarray(position).toString();
        position = text.length;
      }
      await this.clock.sleep(100, signal).catch(() => undefined);
    }
  }

  async list(): Promise<string[]> {
    return [...this.vms.keys()];
  }

  async remove(name: string, options?: RemoveOptions): Promise<void> {
    this.calls.push({ op: options?.quarantine ? "quarantine" : "remove", name });
    if (this.vms.get(name)?.runtime.state === "running") throw new Error(`${name} is running`);
    this.vms.delete(name);
  }

  /** Fault: the VM's process dies as if SIGKILLed. */
  crash(name: string): void {
    const vm = this.vms.get(name);
    if (vm?.runtime.state === "running") {
      vm.runtime = { state: "exited", exit: { code: null, signal: "SIGKILL", known: true } };
    }
  }

  starts(name: string): number {
    return this.calls.filter((c) => c.op === "start" && c.name === name).length;
  }
}
