/**
 * What the store holds about a VM: the desired record (written by the API), its placement and the
 * node's assignment (written by the leader's scheduler) and the observed status (written by the agent
 * that runs it). All are JSON values under keys from keys.ts.
 */
import type { VmSpec } from "./vm-spec.js";

export const PHASES = ["Pending", "Starting", "Running", "Stopping", "Stopped", "Failed"] as const;
export type Phase = (typeof PHASES)[number];

/** `none` when the spec has no health check. */
export const HEALTH_STATES = ["none", "starting", "healthy", "unhealthy"] as const;
export type Health = (typeof HEALTH_STATES)[number];

export type DesiredState = "running" | "stopped";

/** What the user asked for, as the API wrote it under keys.vm(name). Where it runs is the controllers' business (Placement). */
export interface VmRecord {
  name: string;
  spec: VmSpec;
  desiredState: DesiredState;
  /**
   * The VM's cluster address in bridge mode (IPAM, given at create and kept for the VM's life, across
   * restarts, failovers, drains and migrations); absent in user mode.
   */
  address?: string;
  /** The replica group the VM belongs to (`vm create --replicas`); no two members share a node. */
  group?: string;
  /** Bumped by `vm restart`; the agent restarts the VM when its applied nonce lags behind. */
  restartNonce: number;
  /** Set by `vm delete`; the agent stops the VM, removes its state and then the keys. */
  deleting: boolean;
  createdAt: string;
  /**
   * The node holding the VM's local volume (written at create, from the volume's record): the only
   * node the scheduler places the VM on. Absent when the VM has no local volume.
   */
  volumeNode?: { volume: string; node: string };
}

/**
 * Where the controllers have put a VM, under keys.placement(name): written by the leader's scheduler
 * only, in the same transaction as the node's assignment (Assignment), so the two never disagree.
 */
export interface Placement {
  /** Node the VM is assigned to; "" while it is not (not yet placed, unplaceable, or handed off). */
  node: string;
  /** Bumped at every (re)assignment. */
  epoch: number;
  /** Why the scheduler could not place the VM, for each node; absent once it is placed. */
  unschedulable?: string;
  /**
   * Set when a drain takes the VM off a live node: it is placed again only once that node has
   * stopped it (its status report is gone or says so), so two copies never run at once.
   */
  handoffFrom?: string;
  /**
   * The mod revision of the VM record that the node's assignment copies. When the user changes the
   * record (stop, restart, delete, update), the scheduler copies it again and this catches up.
   */
  recordRevision: number;
  /**
   * The vcpus and memory of the record the assignment copies: what the node may run the VM with. A
   * grown spec reaches the node only once the leader has found room for it there (absent in
   * placements written before this field; then the record's own).
   */
  resources?: { vcpus: number; memoryMiB: number };
}

/**
 * What a node's agent is given, under keys.assignment(node, name): a copy of the VM's record and the
 * epoch of the placement. Each agent watches only its own node's assignments, so a write concerns one
 * node, not every node. Written by the leader's scheduler only; deleted when the VM leaves the node.
 */
export interface Assignment {
  record: VmRecord;
  epoch: number;
}

/** The vcpus and memory a record asks for. */
export function resourcesOf(record: VmRecord): { vcpus: number; memoryMiB: number } {
  return { vcpus: record.spec.vcpus, memoryMiB: record.spec.memory };
}

/** A VM as the scheduler plans with it: the user's record with its placement (node "" when none). */
export interface ScheduledVm extends VmRecord {
  node: string;
  epoch?: number;
  unschedulable?: string;
  handoffFrom?: string;
}

/** Joins a record with its placement (none yet: not placed). */
export function scheduledVm(record: VmRecord, placement: Placement | undefined): ScheduledVm {
  if (!placement) return { ...record, node: "" };
  const { node, epoch, unschedulable, handoffFrom } = placement;
  return {
    ...record,
    node,
    epoch,
    ...(unschedulable === undefined ? {} : { unschedulable }),
    ...(handoffFrom === undefined ? {} : { handoffFrom }),
  };
}

export interface ExitInfo {
  /** Exit code when known; null when the process died by a signal or its status could not be read. */
  code: number | null;
  signal: string | null;
  /** False for a re-adopted VM: it is not our child, so its exit status is unknown. */
  known: boolean;
  at: string;
}

export interface VmStatus {
  phase: Phase;
  node: string;
  pid: number | null;
  /** Automatic restarts after a crash or failed health check; manual restarts do not count. */
  restarts: number;
  /** Failures since the VM last ran long enough to be considered stable; drives the backoff. */
  consecutiveFailures: number;
  health: Health;
  message: string;
  startedAt: string | null;
  readyAt: string | null;
  lastExit: ExitInfo | null;
  /** When a crashed VM will be started again (backoff), as epoch ms. */
  nextRestartAt: number | null;
  appliedRestartNonce: number;
  /** Size of the console log when the VM last started; console health checks read from here. */
  consoleOffset: number;
  updatedAt: string;
}

/**
 * Whether a VM serves traffic for its group's name and services: running, and healthy or without a
 * health check. A member reported unhealthy or not running is dropped at once.
 */
export function isServing(status: VmStatus | undefined): boolean {
  return (
    status !== undefined &&
    status.phase === "Running" &&
    (status.health === "healthy" || status.health === "none")
  );
}

export function initialStatus(node: string, now: string, appliedRestartNonce = 0): VmStatus {
  return {
    phase: "Pending",
    node,
    pid: null,
    restarts: 0,
    consecutiveFailures: 0,
    health: "none",
    message: "",
    startedAt: null,
    readyAt: null,
    lastExit: null,
    nextRestartAt: null,
    appliedRestartNonce,
    consoleOffset: 0,
    updatedAt: now,
  };
}

/** A VM as the API returns it: desired record plus the latest observed status. */
export interface VmView {
  name: string;
  spec: VmSpec;
  desiredState: DesiredState;
  deleting: boolean;
  createdAt: string;
  group?: string;
  /** The VM's cluster address (bridge mode). */
  address?: string;
  status: VmStatus;
}
