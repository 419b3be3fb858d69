/**
 * An agent incarnation's handle on the node's driver. Once revoked (the agent died), every call fails,
 * and a call that was in flight has no effect after it returns, as a dead process sends nothing more.
 */
import type { VmRuntime } from "../core/runtime.js";
import type { VmSpec } from "../core/vm-spec.js";
import type {
  DriverCapabilities,
  LogStream,
  LogTail,
  ProgressFn,
  StartedVm,
  StopMethod,
  StopOptions,
  VmDriver,
} from "../ports/vm-driver.js";
import type { SimDriver } from "./sim-driver.js";

export class RevocableDriver implements VmDriver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  private revoked = false;

  constructor(private readonly inner: SimDriver) {
    this.name = inner.name;
    this.capabilities = inner.capabilities;
  }

  revoke(): void {
    this.revoked = true;
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    if (this.revoked) throw new Error("agent is dead");
    return op();
  }

  prepare(name: string, spec: VmSpec, _progress?: ProgressFn): Promise<void> {
    return this.guard(() => this.inner.prepare(name, spec));
  }
  start(name: string, spec: VmSpec): Promise<StartedVm> {
    return this.guard(() => this.inner.start(name, spec, () => this.revoked));
  }
  stop(name: string, options: StopOptions): Promise<StopMethod> {
    return this.guard(() => this.inner.stop(name, options, () => this.revoked));
  }
  inspect(name: string): Promise<VmRuntime> {
    return this.guard(() => this.inner.inspect(name));
  }
  adopt(name: string): Promise<VmRuntime> {
    return this.guard(() => this.inner.adopt(name));
  }
  logs(name: string, tail?: number): Promise<LogTail> {
    return this.guard(() => this.inner.logs(name, tail));
  }
  streamLogs(name: string, tail?: number, chunkBytes?: number): LogStream {
    return this.inner.streamLogs(name, tail, chunkBytes);
  }
  followLogs(name: string, offset: number, signal: AbortSignal): AsyncIterable<string> {
    return this.inner.followLogs(name, offset, signal);
  }
  logSize(name: string): Promise<number> {
    return this.guard(() => this.inner.logSize(name));
  }
  list(): Promise<string[]> {
    return this.guard(() => this.inner.list());
  }
  remove(name: string): Promise<void> {
    return this.guard(() => this.inner.remove(name));
  }
}
