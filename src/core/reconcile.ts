/**
 * Reconcile planning: given what a VM should be (record), what we last reported (status) and what the
 * driver sees (runtime), decide the one next action and the status to report. Pure, so that the agent,
 * its unit tests and the simulator all run the same decisions.
 */
import { backoffDelayMs, stableAfterMs } from "./backoff.js";
import type { VmExit, VmRuntime } from "./runtime.js";
import { initialStatus, type Phase, type VmRecord, type VmStatus } from "./vm-record.js";

export type StopReason = "stop" | "restart" | "delete";

export type Action =
  | { type: "none" }
  /** Prepare and start the VM. `automatic` restarts count towards `restarts`. */
  | { type: "start"; automatic: boolean }
  | { type: "stop"; reason: StopReason }
  /** The VM is down and being deleted: remove its state directory and its keys. */
  | { type: "remove" }
  /** Nothing to do until `at` (epoch ms), when a backoff expires. */
  | { type: "wait"; at: number };

export interface Plan {
  action: Action;
  status: VmStatus;
}

export interface PlanInput {
  record: VmRecord;
  /** The node that plans: the one the VM is assigned to, which its status names. */
  node: string;
  status: VmStatus | undefined;
  runtime: VmRuntime;
  now: number;
}

const UP_PHASES: readonly Phase[] = ["Starting", "Running"];

export function planVm({ record, node, status, runtime, now }: PlanInput): Plan {
  const iso = new Date(now).toISOString();
  const current = status ?? initialStatus(node, iso, record.restartNonce);
  const base: VmStatus = { ...current, node, updatedAt: iso };
  const restartRequested = current.appliedRestartNonce < record.restartNonce;

  if (runtime.state === "running") {
    if (record.deleting) return stopping(base, "delete", "deleting");
    if (record.desiredState === "stopped") return stopping(base, "stop", "stopping");
    if (restartRequested) return stopping(base, "restart", "restarting on request");
    const stable = now - runtime.startedAt >= stableAfterMs(record.spec.restartBackoff);
    return {
      action: { type: "none" },
      status: {
        ...base,
        phase: "Running",
        pid: runtime.pid,
        startedAt: current.startedAt ?? new Date(runtime.startedAt).toISOString(),
        consecutiveFailures: stable ? 0 : current.consecutiveFailures,
        nextRestartAt: null,
        message: current.phase === "Running" ? current.message : "",
      },
    };
  }

  if (record.deleting)
    return { action: { type: "remove" }, status: { ...base, phase: "Stopped", pid: null } };

  const exit: VmExit = runtime.state === "exited" ? runtime.exit : { code: null, signal: null, known: false };
  const crashed = UP_PHASES.includes(current.phase) && current.pid !== null;

  if (record.desiredState === "stopped") {
    if (current.phase === "Stopped") return { action: { type: "none" }, status: base };
    const down: VmStatus = { ...base, phase: "Stopped", pid: null, health: "none", nextRestartAt: null };
    if (crashed)
      return {
        action: { type: "none" },
        status: withExit(down, exit, iso, `exited (${describeExit(exit)})`),
      };
    return { action: { type: "none" }, status: { ...down, message: "" } };
  }

  // Desired running, process not running.
  if (restartRequested) return starting(base, record, false);
  if (crashed) return afterCrash(base, record, exit, now, iso);
  if (current.phase === "Failed") {
    if (current.nextRestartAt === null) return { action: { type: "none" }, status: base };
    if (now < current.nextRestartAt)
      return { action: { type: "wait", at: current.nextRestartAt }, status: base };
    return starting(base, record, true);
  }
  return starting(base, record, false);
}

function stopping(status: VmStatus, reason: StopReason, message: string): Plan {
  return { action: { type: "stop", reason }, status: { ...status, phase: "Stopping", message } };
}

function starting(status: VmStatus, record: VmRecord, automatic: boolean): Plan {
  return {
    action: { type: "start", automatic },
    status: {
      ...status,
      phase: "Starting",
      pid: null,
      health: record.spec.healthCheck ? "starting" : "none",
      nextRestartAt: null,
      readyAt: null,
      restarts: status.restarts + (automatic ? 1 : 0),
      appliedRestartNonce: record.restartNonce,
      message: automatic ? `restarting after failure ${status.consecutiveFailures}` : "starting",
    },
  };
}

function afterCrash(status: VmStatus, record: VmRecord, exit: VmExit, now: number, iso: string): Plan {
  const down = withExit({ ...status, pid: null, health: "none" }, exit, iso, "");
  const what = `exited (${describeExit(exit)})`;
  const policy = record.spec.restartPolicy;
  if (policy === "never") {
    return {
      action: { type: "none" },
      status: { ...down, phase: "Failed", message: `${what}; restart policy is never` },
    };
  }
  if (policy === "on-failure" && exit.known && exit.code === 0) {
    return {
      action: { type: "none" },
      status: { ...down, phase: "Stopped", message: `${what}; restart policy is on-failure` },
    };
  }
  return scheduleRestart(down, record, now, what);
}

/** Records one more failure and schedules the next start after the backoff, or fails for good. */
export function scheduleRestart(status: VmStatus, record: VmRecord, now: number, what: string): Plan {
  if (record.spec.restartPolicy === "never") {
    return { action: { type: "none" }, status: { ...status, phase: "Failed", pid: null, message: what } };
  }
  const failures = status.consecutiveFailures + 1;
  const delay = backoffDelayMs(record.spec.restartBackoff, failures);
  const at = now + delay;
  return {
    action: { type: "wait", at },
    status: {
      ...status,
      phase: "Failed",
      pid: null,
      consecutiveFailures: failures,
      nextRestartAt: at,
      message: `${what}; restarting in ${(delay / 1000).toFixed(1)}s`,
    },
  };
}

function withExit(status: VmStatus, exit: VmExit, iso: string, message: string): VmStatus {
  return { ...status, lastExit: { ...exit, at: iso }, message };
}

export function describeExit(exit: VmExit): string {
  if (!exit.known) return "exit status unknown: the process was re-adopted after an agent restart";
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit code ${exit.code}`;
}
