/**
 * What every driver that keeps a VM in `<vmsDir>/<name>/` does the same way: the console log in
 * `console.log`, the list of VMs from the directories, adoption through inspect, removal (or
 * quarantine) of a VM that is down, and per-VM serialisation. Each driver adds how it starts, stops and inspects.
 */
import { rm } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
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
  VmRuntime,
} from "../../ports/vm-driver.js";
import { fileSize, followFile, readTail } from "./console-log.js";
import { streamConsoleLog } from "./console-log-stream.js";
import { fileExists } from "./files.js";
import { KeyedLock } from "./keyed-lock.js";
import { quarantineDirFor, quarantineStateDir } from "./quarantine.js";
import type { OwnChild } from "./spawn-vm-process.js";
import { listVmNames } from "./vm-paths.js";

export interface StateDirFiles {
  stateDir: string;
  consoleLog: string;
}

export abstract class StateDirDriver implements VmDriver {
  abstract readonly name: string;
  readonly capabilities: DriverCapabilities = { migrate: false, snapshot: false, balloon: false };
  /** The VM processes this process spawned: only their exit status is known. */
  protected readonly children = new Map<string, OwnChild>();
  /** Per-VM queue: two starts (or a start and a stop) of one VM never interleave. */
  protected readonly locks = new KeyedLock();

  protected constructor(
    protected readonly log: Logger,
    protected readonly vmsDir: string,
    protected readonly clock: Clock,
  ) {}

  abstract prepare(name: string, spec: VmSpec, progress?: ProgressFn): Promise<void>;
  abstract start(name: string, spec: VmSpec, options?: StartOptions): Promise<StartedVm>;
  abstract stop(name: string, options: StopOptions): Promise<StopMethod>;
  abstract inspect(name: string): Promise<VmRuntime>;
  /** The VM's state dir and console log; validates the name. */
  protected abstract files(name: string): StateDirFiles;

  async adopt(name: string): Promise<VmRuntime> {
    const runtime = await this.inspect(name);
    if (runtime.state === "running" && !this.children.has(name)) {
      this.log.info({ vm: name, pid: runtime.pid }, "re-adopted running VM");
    }
    return runtime;
  }

  async logs(name: string, tail?: number): Promise<LogTail> {
    const files = this.files(name);
    if (!(await fileExists(files.stateDir))) {
      throw new BlixardError("NOT_FOUND", `VM ${name} has no state on this node, so no console log`);
    }
    return readTail(files.consoleLog, tail);
  }

  streamLogs(name: string, tail?: number, chunkBytes?: number): LogStream {
    const files = this.files(name);
    const stream = streamConsoleLog(files.consoleLog, tail, chunkBytes);
    const chunks = async function* () {
      if (!(await fileExists(files.stateDir))) {
        throw new BlixardError("NOT_FOUND", `VM ${name} has no state on this node, so no console log`);
      }
      yield* stream.chunks;
    };
    return { chunks: chunks(), offset: stream.offset };
  }

  followLogs(name: string, offset: number, signal: AbortSignal): AsyncIterable<string> {
    return followFile(this.files(name).consoleLog, offset, signal, this.clock);
  }

  async logSize(name: string): Promise<number> {
    return fileSize(this.files(name).consoleLog);
  }

  async list(): Promise<string[]> {
    return listVmNames(this.vmsDir);
  }

  async remove(name: string, options?: RemoveOptions): Promise<void> {
    const { stateDir } = this.files(name);
    await this.locks.run(name, async () => {
      const runtime = await this.inspect(name);
      if (runtime.state === "running") {
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `VM ${name} is running as pid ${runtime.pid}; stop it before removing it`,
        );
      }
      await this.beforeRemove(name);
      if (options?.quarantine && (await fileExists(stateDir))) {
        const reason = options.quarantine.reason;
        const dir = await quarantineStateDir(
          stateDir,
          quarantineDirFor(this.vmsDir),
          name,
          this.clock.now(),
          reason,
        );
        this.log.warn({ vm: name, quarantine: dir, reason }, "moved the VM's state dir to quarantine");
      } else {
        await rm(stateDir, { recursive: true, force: true });
      }
      this.children.delete(name);
    });
  }

  /** Undoes what the VM set up on the host outside its state dir; it is down already. */
  protected async beforeRemove(_name: string): Promise<void> {}
}
