import { describe, expect, it } from "vitest";
import { planVm, scheduleRestart } from "./reconcile.js";
import type { VmRuntime } from "./runtime.js";
import { initialStatus, type VmRecord, type VmStatus } from "./vm-record.js";
import { parseVmSpec } from "./vm-spec.js";

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const running: VmRuntime = { state: "running", pid: 4242, startedAt: NOW - 5_000 };
const killed: VmRuntime = { state: "exited", exit: { code: null, signal: "SIGKILL", known: true } };
const cleanExit: VmRuntime = { state: "exited", exit: { code: 0, signal: null, known: true } };

function record(overrides: Partial<VmRecord> = {}, spec: Record<string, unknown> = {}): VmRecord {
  return {
    name: "web",
    spec: parseVmSpec({ name: "web", kernel: "/k", ...spec }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: new Date(NOW).toISOString(),
    ...overrides,
  };
}

function status(overrides: Partial<VmStatus> = {}): VmStatus {
  return { ...initialStatus("node-a", new Date(NOW).toISOString()), ...overrides };
}

describe("planVm", () => {
  it("starts a new VM whose desired state is running", () => {
    const plan = planVm({
      node: "node-a",
      record: record(),
      status: undefined,
      runtime: { state: "absent" },
      now: NOW,
    });
    expect(plan.action).toEqual({ type: "start", automatic: false });
    expect(plan.status).toMatchObject({ phase: "Starting", restarts: 0 });
  });

  it("leaves a created-but-stopped VM alone", () => {
    const plan = planVm({
      node: "node-a",
      record: record({ desiredState: "stopped" }),
      status: undefined,
      runtime: { state: "absent" },
      now: NOW,
    });
    expect(plan.action).toEqual({ type: "none" });
    expect(plan.status.phase).toBe("Stopped");
  });

  it("reports a running VM as Running with its pid", () => {
    const plan = planVm({
      node: "node-a",
      record: record(),
      status: status({ phase: "Starting" }),
      runtime: running,
      now: NOW,
    });
    expect(plan.action.type).toBe("none");
    expect(plan.status).toMatchObject({ phase: "Running", pid: 4242 });
  });

  it("schedules a restart with backoff when a running VM is killed", () => {
    const plan = planVm({
      node: "node-a",
      record: record(),
      status: status({ phase: "Running", pid: 4242 }),
      runtime: killed,
      now: NOW,
    });
    expect(plan.action).toEqual({ type: "wait", at: NOW + 1000 });
    expect(plan.status).toMatchObject({
      phase: "Failed",
      consecutiveFailures: 1,
      pid: null,
      nextRestartAt: NOW + 1000,
    });
    expect(plan.status.lastExit).toMatchObject({ signal: "SIGKILL", known: true });
    expect(plan.status.message).toContain("killed by SIGKILL");
  });

  it("doubles the backoff with each consecutive failure, up to the maximum", () => {
    const rec = record({}, { restartBackoff: { initialSeconds: 1, maxSeconds: 5 } });
    const delays = [0, 1, 2, 3, 4].map((failures) => {
      const plan = scheduleRestart(status({ consecutiveFailures: failures }), rec, NOW, "crashed");
      return plan.status.nextRestartAt! - NOW;
    });
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it("waits while the backoff runs, then restarts and counts the restart", () => {
    const failed = status({ phase: "Failed", nextRestartAt: NOW + 1000, consecutiveFailures: 1 });
    expect(
      planVm({ node: "node-a", record: record(), status: failed, runtime: killed, now: NOW }).action,
    ).toEqual({
      type: "wait",
      at: NOW + 1000,
    });
    const plan = planVm({
      node: "node-a",
      record: record(),
      status: failed,
      runtime: killed,
      now: NOW + 1000,
    });
    expect(plan.action).toEqual({ type: "start", automatic: true });
    expect(plan.status).toMatchObject({ phase: "Starting", restarts: 1 });
  });

  it("does not restart a VM whose policy is never", () => {
    const plan = planVm({
      node: "node-a",
      record: record({}, { restartPolicy: "never" }),
      status: status({ phase: "Running", pid: 1 }),
      runtime: killed,
      now: NOW,
    });
    expect(plan.action.type).toBe("none");
    expect(plan.status.phase).toBe("Failed");
  });

  it("lets an on-failure VM that exited cleanly stay stopped", () => {
    const plan = planVm({
      node: "node-a",
      record: record({}, { restartPolicy: "on-failure" }),
      status: status({ phase: "Running", pid: 1 }),
      runtime: cleanExit,
      now: NOW,
    });
    expect(plan.action.type).toBe("none");
    expect(plan.status.phase).toBe("Stopped");
  });

  it("restarts an on-failure VM whose exit status is unknown after re-adoption", () => {
    const plan = planVm({
      node: "node-a",
      record: record({}, { restartPolicy: "on-failure" }),
      status: status({ phase: "Running", pid: 1 }),
      runtime: { state: "exited", exit: { code: null, signal: null, known: false } },
      now: NOW,
    });
    expect(plan.action.type).toBe("wait");
  });

  it("stops a running VM whose desired state is stopped", () => {
    const plan = planVm({
      node: "node-a",
      record: record({ desiredState: "stopped" }),
      status: status(),
      runtime: running,
      now: NOW,
    });
    expect(plan.action).toEqual({ type: "stop", reason: "stop" });
    expect(plan.status.phase).toBe("Stopping");
  });

  it("keeps the stop method message once stopped", () => {
    const plan = planVm({
      node: "node-a",
      record: record({ desiredState: "stopped" }),
      status: status({ phase: "Stopped", pid: null, message: "stopped (quit)" }),
      runtime: { state: "absent" },
      now: NOW,
    });
    expect(plan.status.message).toBe("stopped (quit)");
  });

  it("reports Stopped, not a crash, after a requested stop", () => {
    const plan = planVm({
      node: "node-a",
      record: record({ desiredState: "stopped" }),
      status: status({ phase: "Stopped", pid: null }),
      runtime: cleanExit,
      now: NOW,
    });
    expect(plan.action.type).toBe("none");
    expect(plan.status).toMatchObject({ phase: "Stopped", restarts: 0 });
  });

  it("restarts on request: stop first, then start without counting a failure", () => {
    const rec = record({ restartNonce: 1 });
    const stop = planVm({
      node: "node-a",
      record: rec,
      status: status({ phase: "Running", pid: 4242 }),
      runtime: running,
      now: NOW,
    });
    expect(stop.action).toEqual({ type: "stop", reason: "restart" });
    const start = planVm({
      node: "node-a",
      record: rec,
      status: { ...stop.status, phase: "Stopped", pid: null },
      runtime: cleanExit,
      now: NOW,
    });
    expect(start.action).toEqual({ type: "start", automatic: false });
    expect(start.status).toMatchObject({ appliedRestartNonce: 1, restarts: 0 });
  });

  it("deletes: stop a running VM, then remove it once down", () => {
    const rec = record({ deleting: true });
    expect(
      planVm({ node: "node-a", record: rec, status: status(), runtime: running, now: NOW }).action,
    ).toEqual({
      type: "stop",
      reason: "delete",
    });
    expect(
      planVm({ node: "node-a", record: rec, status: status(), runtime: cleanExit, now: NOW }).action,
    ).toEqual({
      type: "remove",
    });
  });

  it("resets the failure count once a VM has run stably", () => {
    const plan = planVm({
      node: "node-a",
      record: record(),
      status: status({ phase: "Running", pid: 4242, consecutiveFailures: 3 }),
      runtime: { ...running, startedAt: NOW - 61_000 },
      now: NOW,
    });
    expect(plan.status.consecutiveFailures).toBe(0);
  });

  it("starts again, without counting a crash, when the agent died mid-start", () => {
    const plan = planVm({
      node: "node-a",
      record: record(),
      status: status({ phase: "Starting", pid: null }),
      runtime: { state: "absent" },
      now: NOW,
    });
    expect(plan.action).toEqual({ type: "start", automatic: false });
    expect(plan.status.restarts).toBe(0);
  });
});
