/**
 * Placement throughput with the production placement code (core/placement.ts) in process, on
 * synthetic clusters: every placement is accounted on its node before the next, as the scheduler does.
 */
import { CandidateTable } from "../core/candidate-table.js";
import { ClusterLoad } from "../core/cluster-load.js";
import type { NodeView } from "../core/node-record.js";
import { type Candidate, type PlacementRequest, placeIn, type Strategy } from "../core/placement.js";
import { planScheduling } from "../core/scheduling.js";
import type { ScheduledVm } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";

export interface PlacementFigures {
  nodes: number;
  strategy: Strategy;
  placements: number;
  perSecond: number;
  /** Mean microseconds per placement. */
  microsEach: number;
}

function cluster(size: number): Candidate[] {
  return Array.from({ length: size }, (_, i) => ({
    id: `node-${String(i).padStart(6, "0")}`,
    labels: { zone: `z${i % 4}`, rack: `r${i % 64}` },
    drivers: ["qemu"],
    networks: ["user"],
    ready: i % 50 !== 7,
    schedulable: i % 97 !== 3,
    // Large enough that even the 100-node cluster takes every placement (overcommitted hosts).
    vcpus: 1024,
    memoryMiB: 1_048_576,
    usedVcpus: 0,
    usedMemoryMiB: 0,
    groups: new Set<string>(),
    ports: new Set<string>(),
    images: new Set<string>(),
  }));
}

export function measurePlacement(size: number, strategy: Strategy, placements: number): PlacementFigures {
  // Built once, as the scheduler builds it once per pass over many VMs.
  const table = CandidateTable.from(cluster(size));
  // A fixed-seed generator: the same run every time, and no wall clock in the decisions.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const t0 = performance.now();
  for (let i = 0; i < placements; i++) {
    const req: PlacementRequest = {
      vm: `vm-${i}`,
      resources: { vcpus: 1 + (i % 4), memoryMiB: 512 * (1 + (i % 8)) },
      driver: "qemu",
      constraints: i % 3 === 0 ? [{ key: "zone", op: "!=", value: "z0" }] : [],
      strategy,
    };
    const result = placeIn(table, req, { random });
    if (!result.ok) throw new Error(result.message);
    table.assign(result.index, req.resources);
  }
  const ms = performance.now() - t0;
  return {
    nodes: size,
    strategy,
    placements,
    perSecond: (placements / ms) * 1000,
    microsEach: (ms * 1000) / placements,
  };
}

export interface PassFigures {
  nodes: number;
  vms: number;
  /** Unplaceable VMs waiting for room, not worth trying again in this pass. */
  pending: number;
  /** Mean milliseconds of one scheduling pass that places one new VM. */
  msEach: number;
}

/**
 * One scheduling pass (core/scheduling.ts, as the leader runs it) on a cluster of `vms` placed VMs,
 * each pass placing one new one: the leader's cost per create when creates arrive one at a time.
 * `pending`: VMs without a node that an earlier pass found unplaceable in a cluster that has not
 * changed since (the scheduler's `retry` says no), as when creates outrun the cluster's room.
 */
export function measureSchedulingPass(
  nodeCount: number,
  vmCount: number,
  passes: number,
  pending = 0,
): PassFigures {
  const nodes: NodeView[] = Array.from({ length: nodeCount }, (_, i) => ({
    id: `node-${String(i).padStart(6, "0")}`,
    apiUrl: "",
    labels: { zone: `z${i % 4}` },
    capacity: { vcpus: 100_000, memoryMiB: 100_000_000, drivers: ["qemu"] },
    startedAt: "",
    state: "Ready",
    cordoned: false,
    draining: false,
  }));
  const vm = (i: number, node: string): ScheduledVm => ({
    name: `vm-${i}`,
    spec: parseVmSpec({ name: `vm-${i}`, kernel: "/boot/vmlinux", vcpus: 1, memory: 256 }),
    desiredState: "running",
    node,
    restartNonce: 0,
    deleting: false,
    createdAt: new Date(1_800_000_000_000 + i).toISOString(),
  });
  const load = ClusterLoad.of(Array.from({ length: vmCount }, (_, i) => vm(i, nodes[i % nodeCount]!.id)));
  const tried = new Set<string>();
  for (let i = 0; i < pending; i++) {
    const waiting = { ...vm(vmCount + passes + i, ""), unschedulable: "no node has room" };
    load.set(waiting);
    tried.add(waiting.name);
  }
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const config = { defaultStrategy: "spread" as const, graceMs: 5_000 };
  const t0 = performance.now();
  for (let p = 0; p < passes; p++) {
    const pending = vm(vmCount + p, "");
    load.set(pending);
    const [decision] = planScheduling(
      {
        nodes,
        load,
        statuses: new Map(),
        now: 0,
        notReadySince: new Map(),
        retry: (v) => !tried.has(v.name),
      },
      config,
      random,
    );
    if (decision?.type !== "assign") throw new Error(`the pass did not place ${pending.name}`);
    load.set({ ...pending, node: decision.node });
  }
  return { nodes: nodeCount, vms: vmCount, pending, msEach: (performance.now() - t0) / passes };
}
