import { describe, expect, it } from "vitest";
import { ClusterLoad } from "./cluster-load.js";
import type { NodeView } from "./node-record.js";
import { planScheduling, type SchedulerConfig } from "./scheduling.js";
import { initialStatus, type ScheduledVm, type VmStatus } from "./vm-record.js";
import { parseVmSpec } from "./vm-spec.js";

const config: SchedulerConfig = { defaultStrategy: "spread", graceMs: 5000 };
const noAllowance = { reserved: { vcpus: 0, memoryMiB: 0 }, overcommit: { cpu: 1, memory: 1 } };

const node = (id: string, overrides: Partial<NodeView> = {}): NodeView => ({
  id,
  apiUrl: `http://${id}:7001`,
  labels: {},
  capacity: { vcpus: 4, memoryMiB: 4096, drivers: ["qemu"] },
  allowance: noAllowance,
  startedAt: "2026-11-22T00:00:00.000Z",
  state: "Ready",
  cordoned: false,
  draining: false,
  ...overrides,
});

let created = 0;
const vm = (
  name: string,
  nodeId = "",
  spec: Record<string, unknown> = {},
  extra: Partial<ScheduledVm> = {},
): ScheduledVm => ({
  name,
  spec: parseVmSpec({ name, kernel: "/k", ...spec }),
  desiredState: "running",
  node: nodeId,
  restartNonce: 0,
  deleting: false,
  createdAt: new Date(Date.UTC(2026, 10, 22, 0, 0, created++)).toISOString(),
  ...extra,
});

const plan = (
  nodes: NodeView[],
  vms: ScheduledVm[],
  now = 0,
  notReadySince = new Map<string, number>(),
  statuses = new Map<string, VmStatus>(),
) => planScheduling({ nodes, load: ClusterLoad.of(vms), statuses, now, notReadySince }, config, () => 0);

describe("scheduling", () => {
  it("places unassigned VMs, accounting each before the next", () => {
    const decisions = plan(
      [node("a"), node("b")],
      [vm("x", "", { memory: 3072 }), vm("y", "", { memory: 3072 })],
    );
    expect(decisions).toEqual([
      { type: "assign", vm: "x", node: "a" },
      { type: "assign", vm: "y", node: "b" },
    ]);
  });

  it("leaves placed VMs alone and honours the spec's placement", () => {
    const nodes = [node("a", { labels: { zone: "eu" } }), node("b", { labels: { zone: "us" } })];
    expect(
      plan(nodes, [vm("placed", "a"), vm("eu-only", "", { placement: { constraints: ["zone=us"] } })]),
    ).toEqual([{ type: "assign", vm: "eu-only", node: "b" }]);
    expect(plan(nodes, [vm("manual", "", { placement: { node: "a" } })])).toEqual([
      { type: "assign", vm: "manual", node: "a" },
    ]);
  });

  it("reports an unplaceable VM once, with each node's reason", () => {
    const big = vm("big", "", { memory: 8192 });
    const decisions = plan([node("a"), node("b", { state: "NotReady" })], [big]);
    expect(decisions).toEqual([
      {
        type: "unschedulable",
        vm: "big",
        message: "no node can run VM big: a: not enough memory (needs 8192 MiB, 4096 free); b: NotReady",
      },
    ]);
    const already = { ...big, unschedulable: (decisions[0] as { message: string }).message };
    expect(plan([node("a"), node("b", { state: "NotReady" })], [already])).toEqual([]);
  });

  it("moves the VMs of a node that stays NotReady past the grace period, and not before", () => {
    const since = new Map<string, number>();
    const nodes = [node("a", { state: "NotReady" }), node("b")];
    const vms = [vm("web", "a"), vm("gone", "a", {}, { deleting: true })];
    expect(plan(nodes, vms, 1_000, since)).toEqual([]);
    expect(plan(nodes, vms, 5_999, since)).toEqual([]);
    expect(plan(nodes, vms, 6_000, since)).toEqual([
      { type: "assign", vm: "web", node: "b", from: "a" },
      { type: "finish-delete", vm: "gone", node: "a" },
    ]);
  });

  it("restarts the grace period when the node comes back in between", () => {
    const since = new Map<string, number>();
    const vms = [vm("web", "a")];
    plan([node("a", { state: "NotReady" }), node("b")], vms, 0, since);
    plan([node("a"), node("b")], vms, 3_000, since);
    expect(plan([node("a", { state: "NotReady" }), node("b")], vms, 6_000, since)).toEqual([]);
  });

  it("unassigns a lost node's VM when no other node can take it", () => {
    const since = new Map<string, number>([["a", 0]]);
    const decisions = plan([node("a", { state: "NotReady" })], [vm("web", "a")], 10_000, since);
    expect(decisions).toEqual([
      { type: "unschedulable", vm: "web", from: "a", message: "no node can run VM web: a: NotReady" },
    ]);
  });

  it("does not place on cordoned nodes", () => {
    expect(plan([node("a", { cordoned: true }), node("b")], [vm("web")])).toEqual([
      { type: "assign", vm: "web", node: "b" },
    ]);
  });

  it("takes the VMs off a draining node (not those being deleted), and leaves a merely cordoned node's", () => {
    const vms = [vm("web", "a"), vm("db", "a", {}, { deleting: true }), vm("cache", "b")];
    expect(plan([node("a", { cordoned: true, draining: true }), node("b")], vms)).toEqual([
      { type: "evict", vm: "web", from: "a" },
    ]);
    expect(plan([node("a", { cordoned: true }), node("b")], vms)).toEqual([]);
    // A draining node gone past the grace period has its VMs moved as a lost node's, not evicted.
    const gone = [node("a", { cordoned: true, draining: true, state: "NotReady" }), node("b")];
    expect(plan(gone, [vm("web", "a")], 10_000, new Map([["a", 0]]))).toEqual([
      { type: "assign", vm: "web", node: "b", from: "a" },
    ]);
  });

  it("places a drained VM only once the node it left has stopped it", () => {
    const nodes = [node("a", { cordoned: true, draining: true }), node("b")];
    const drained = vm("web", "", {}, { handoffFrom: "a" });
    const running = { ...initialStatus("a", "t"), phase: "Running" as const };
    expect(plan(nodes, [drained], 0, new Map(), new Map([["web", running]]))).toEqual([]);
    const stopped = { ...running, phase: "Stopped" as const };
    expect(plan(nodes, [drained], 0, new Map(), new Map([["web", stopped]]))).toEqual([
      { type: "assign", vm: "web", node: "b" },
    ]);
    // Its report gone (the old node removed the VM), or the old node gone: placed as well.
    expect(plan(nodes, [drained], 0, new Map(), new Map())).toHaveLength(1);
    const down = [node("a", { state: "NotReady" }), node("b")];
    expect(plan(down, [drained], 0, new Map(), new Map([["web", running]]))).toHaveLength(1);
  });

  it("never places two replicas of a group on one node", () => {
    const nodes = [node("a"), node("b")];
    const replicas = [1, 2, 3].map((i) => vm(`web-${i}`, "", { memory: 64 }, { group: "web" }));
    const decisions = plan(nodes, [vm("web-0", "a", { memory: 64 }, { group: "web" }), ...replicas]);
    expect(decisions).toEqual([
      { type: "assign", vm: "web-1", node: "b" },
      {
        type: "unschedulable",
        vm: "web-2",
        message: "no node can run VM web-2: a, b: already runs a replica of web",
      },
      {
        type: "unschedulable",
        vm: "web-3",
        message: "no node can run VM web-3: a, b: already runs a replica of web",
      },
    ]);
  });

  it("asks `retry` once per unplaceable VM and places those it allows in creation order with the new ones", () => {
    // A leader with many VMs Pending for want of room: those found unplaceable in an unchanged
    // cluster are skipped before the pass orders its work, and each is asked about once.
    const waiting = ["w1", "w2", "w3"].map((name) => vm(name, "", {}, { unschedulable: "no room" }));
    const fresh = vm("fresh");
    const asked: string[] = [];
    const decisions = planScheduling(
      {
        nodes: [node("a")],
        load: ClusterLoad.of([...waiting, fresh]),
        statuses: new Map(),
        now: 0,
        notReadySince: new Map(),
        retry: (v) => {
          asked.push(v.name);
          return v.name === "w2";
        },
      },
      config,
      () => 0,
    );
    expect(asked.sort()).toEqual(["w1", "w2", "w3"]);
    // w2 is older than fresh: retried VMs keep their place in creation order.
    expect(decisions).toEqual([
      { type: "assign", vm: "w2", node: "a" },
      { type: "assign", vm: "fresh", node: "a" },
    ]);
  });
});
