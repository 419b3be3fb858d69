/**
 * The scheduler's decisions for one pass over the cluster: place VMs that have no node, move VMs off
 * nodes that have been gone longer than the grace period, take VMs off draining nodes (to be placed
 * once their node has stopped them), and finish deleting VMs whose node is gone.
 * Pure: the leader's controller applies the decisions; the simulator can run the same planning.
 */
import { nodeAllocatable } from "./allocation.js";
import { CandidateTable } from "./candidate-table.js";
import type { ClusterLoad } from "./cluster-load.js";
import type { NodeView } from "./node-record.js";
import {
  type Candidate,
  type PlacementRequest,
  parseConstraint,
  placeIn,
  type Strategy,
} from "./placement.js";
import type { ScheduledVm, VmStatus } from "./vm-record.js";

export interface SchedulerConfig {
  defaultStrategy: Strategy;
  /** How long a node may be NotReady before its VMs are moved elsewhere. */
  graceMs: number;
}

export interface ClusterSnapshot {
  nodes: readonly NodeView[];
  /** The VM records, counted per node (kept up to date by the scheduler, or ClusterLoad.of(vms)). */
  load: ClusterLoad;
  /** The agents' status reports, by VM name. */
  statuses: ReadonlyMap<string, VmStatus>;
  now: number;
  /** When this leader first saw each NotReady (or unregistered) node so; filled in by planScheduling. */
  notReadySince: Map<string, number>;
  /**
   * Whether a VM already found unplaceable is worth trying again (the cluster changed since). Without
   * it every pass would retry every Pending VM: with thousands Pending, a cost per pass that grows
   * with them. All are retried when absent.
   */
  retry?: (vm: ScheduledVm) => boolean;
}

export type Decision =
  | { type: "assign"; vm: string; node: string; from?: string }
  | { type: "unschedulable"; vm: string; message: string; from?: string }
  /** Off a draining node: unassigned, and placed elsewhere once that node has stopped it (handoffFrom). */
  | { type: "evict"; vm: string; from: string }
  | { type: "finish-delete"; vm: string; node: string };

export function planScheduling(
  snapshot: ClusterSnapshot,
  config: SchedulerConfig,
  random: () => number,
): Decision[] {
  const { now, notReadySince, load } = snapshot;
  const ready = new Set(snapshot.nodes.filter((n) => n.state === "Ready").map((n) => n.id));
  for (const id of [...snapshot.nodes.map((n) => n.id), ...load.assignedNodes()]) {
    if (ready.has(id)) notReadySince.delete(id);
    else if (!notReadySince.has(id)) notReadySince.set(id, now);
  }
  const gone = (node: string) => {
    const since = notReadySince.get(node);
    return since !== undefined && now - since >= config.graceMs;
  };

  const table = CandidateTable.from(buildCandidates(snapshot.nodes, load));
  const decisions: Decision[] = [];
  // A drain only cordons its node (the API writes nothing else); the leader takes its VMs off. A node
  // gone past the grace period has its VMs moved below instead.
  for (const view of snapshot.nodes) {
    if (!view.draining || gone(view.id)) continue;
    for (const vm of load.onNode(view.id)) {
      if (!vm.deleting) decisions.push({ type: "evict", vm: vm.name, from: view.id });
    }
  }
  // Only VMs without a node, or on a node gone past the grace period, need a decision; the others are
  // counted in the table only, so a pass costs O(nodes + those VMs), not O(all VMs).
  const ordered = [...load.unassigned()];
  for (const [node] of notReadySince) if (gone(node)) ordered.push(...load.onNode(node));
  ordered.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  for (const vm of ordered) {
    if (vm.deleting) {
      if (vm.node === "" || gone(vm.node))
        decisions.push({ type: "finish-delete", vm: vm.name, node: vm.node });
      continue;
    }
    const lost = vm.node !== "" && gone(vm.node);
    if (vm.node !== "" && !lost) continue;
    if (!lost && vm.unschedulable !== undefined && snapshot.retry && !snapshot.retry(vm)) continue;
    if (
      vm.node === "" &&
      vm.handoffFrom !== undefined &&
      !handedOff(vm, snapshot.statuses.get(vm.name), ready)
    ) {
      continue;
    }
    const from = lost ? { from: vm.node } : {};
    const req = placementRequest(vm, config);
    const result = placeIn(table, req, { random });
    if (result.ok) {
      table.assign(result.index, req.resources, req);
      decisions.push({ type: "assign", vm: vm.name, node: result.node, ...from });
    } else if (lost || vm.unschedulable !== result.message) {
      decisions.push({ type: "unschedulable", vm: vm.name, message: result.message, ...from });
    }
  }
  return decisions;
}

const RUNNING_PHASES = new Set(["Starting", "Running", "Stopping"]);

/** The node a drain took the VM from has stopped it, or is not there to run it. */
function handedOff(vm: ScheduledVm, status: VmStatus | undefined, ready: ReadonlySet<string>): boolean {
  const from = vm.handoffFrom!;
  if (!ready.has(from)) return true;
  return status === undefined || status.node !== from || !RUNNING_PHASES.has(status.phase);
}

export function placementRequest(
  vm: ScheduledVm,
  config: Pick<SchedulerConfig, "defaultStrategy">,
): PlacementRequest {
  const placement = vm.spec.placement ?? { constraints: [] };
  return {
    vm: vm.name,
    resources: { vcpus: vm.spec.vcpus, memoryMiB: vm.spec.memory },
    driver: vm.spec.driver,
    network: vm.spec.network,
    constraints: placement.constraints.flatMap((c) => parseConstraint(c) ?? []),
    strategy: placement.strategy ?? config.defaultStrategy,
    ...(placement.node === undefined ? {} : { node: placement.node }),
    ...(vm.volumeNode === undefined ? {} : { volumeNode: vm.volumeNode }),
    ...(vm.group === undefined ? {} : { group: vm.group }),
    ports: vm.spec.forwards.map((f) => `${f.protocol}/${f.host}`),
    images: [vm.spec.kernel, vm.spec.initrd, vm.spec.disk].filter((p): p is string => p !== undefined),
  };
}

/** Placement candidates: each node with what its VMs use, their ports, groups and images. */
export function buildCandidates(nodes: readonly NodeView[], load: ClusterLoad): Candidate[] {
  return nodes.map((view) => {
    const total = nodeAllocatable(view);
    return {
      id: view.id,
      labels: view.labels,
      drivers: view.capacity.drivers,
      networks: view.capacity.networks ?? ["user"],
      ready: view.state === "Ready",
      schedulable: !view.cordoned,
      vcpus: total.vcpus,
      memoryMiB: total.memoryMiB,
      ...load.candidateLoad(view.id),
    };
  });
}
