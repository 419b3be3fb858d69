/**
 * The VmDriver port: how an agent runs VMs on its node. A driver owns the VM's state directory
 * (`<data-dir>/vms/<name>/`), so that a restarted agent can find and re-adopt what is still running.
 */
import type { VmRuntime } from "../core/runtime.js";
import type { BridgeAttachment } from "../core/vm-network.js";
import type { VmSpec } from "../core/vm-spec.js";
import type { BlockSource } from "./volume-backend.js";

export interface DriverCapabilities {
  migrate: boolean;
  snapshot: boolean;
  balloon: boolean;
}

export interface Progress {
  step: string;
  /** 0..1 when known. */
  fraction?: number;
}

export type ProgressFn = (progress: Progress) => void;

export interface StartOptions {
  /** For a VM in bridge mode: the tap to create on the node's bridge, its MAC and the VM's address. */
  bridge?: BridgeAttachment;
  /** The spec's volumes in its order, resolved by the agent to what qemu opens (docs/volumes.md). */
  volumes?: AttachedVolume[];
}

/** A volume as the driver attaches it: a virtio-blk device after the boot disk (or as it, `boot`). */
export interface AttachedVolume {
  name: string;
  readOnly: boolean;
  boot: boolean;
  source: BlockSource;
}

export interface StartedVm {
  pid: number;
  startedAt: number;
}

export type { VmExit, VmRuntime } from "../core/runtime.js";

export interface LogTail {
  text: string;
  /** Byte offset just past `text`: `followLogs` from here neither repeats nor skips output. */
  offset: number;
}

/** A console log streamed a bounded chunk at a time (`vm logs` without -f). */
export interface LogStream {
  /** The text in order, each chunk decoded from at most the chunk size in bytes of the log. */
  chunks: AsyncIterable<string>;
  /** The log's size when the stream began (valid once `chunks` has started): where to follow from. */
  offset(): number;
}

export type StopMethod = "graceful" | "quit" | "kill" | "not-running";

export interface StopOptions {
  /** How long to wait for the guest to power off after Ctrl-Alt-Del. */
  gracefulTimeoutMs: number;
  /** How long to wait after QMP quit before SIGKILL. */
  quitTimeoutMs: number;
  /** How long to wait for the process to vanish after SIGKILL. */
  killTimeoutMs: number;
}

export interface RemoveOptions {
  /** Keep the state: move it to quarantine, noting why. */
  quarantine?: { reason: string };
}

export interface VmDriver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;
  /** Builds or checks artefacts before a start (e.g. a disk overlay), reporting progress. */
  prepare(name: string, spec: VmSpec, progress?: ProgressFn): Promise<void>;
  /** Launches the VM detached from the agent, so that it survives an agent exit. */
  start(name: string, spec: VmSpec, options?: StartOptions): Promise<StartedVm>;
  /** Stops the VM, escalating graceful → quit → kill, each step with its own timeout. */
  stop(name: string, options: StopOptions): Promise<StopMethod>;
  /** The VM's current state. Cheap; called on every reconcile. */
  inspect(name: string): Promise<VmRuntime>;
  /** Re-attaches to a VM that a previous agent started; never starts or kills anything. */
  adopt(name: string): Promise<VmRuntime>;
  /** The last `tail` lines of the serial console (all when undefined), and the offset to follow from. */
  logs(name: string, tail?: number): Promise<LogTail>;
  /**
   * The same lines as `logs`, as the log is when the stream begins, read and yielded a chunk of at
   * most `chunkBytes` (default 64 KiB) at a time: memory per call is one chunk, whatever the log's size.
   */
  streamLogs(name: string, tail?: number, chunkBytes?: number): LogStream;
  /** Console output appended after `offset` bytes, until aborted. */
  followLogs(name: string, offset: number, signal: AbortSignal): AsyncIterable<string>;
  /** Size of the console log in bytes (the offset to follow from). */
  logSize(name: string): Promise<number>;
  /** Names of the VMs that have a state directory on this node. */
  list(): Promise<string[]>;
  /**
   * Removes the VM's state directory. The VM must not be running. With `quarantine`, the directory is
   * moved aside (to `<data-dir>/quarantine/`) instead: for state nobody asked to delete (an orphan),
   * which may hold the only copy of a guest's writes.
   */
  remove(name: string, options?: RemoveOptions): Promise<void>;
}
