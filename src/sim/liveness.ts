/**
 * What the simulator knows about each node's liveness over time, from outside the system: since when
 * the store has seen it Ready or NotReady (its liveness key), and since when its process has been up
 * and connected. The timely-failover invariant reads it: a VM left on a node that has been NotReady
 * for longer than the failover bound, while another node could have taken it over, is a violation.
 */
import { keys, nameFromKey } from "../core/keys.js";
import { allocatable, parseConstraint, type Resources } from "../core/placement.js";
import type { ScheduledVm } from "../core/vm-record.js";
import type { Clock } from "../ports/clock.js";
import type { Store } from "../ports/store.js";
import { scheduledVms } from "./decode.js";
import type { SimNode, SimNodeConfig } from "./sim-node.js";

export interface OverdueVm {
  vm: string;
  node: string;
  /** How long the node has been NotReady while another node could take its VMs, ms. */
  overdueForMs: number;
  boundMs: number;
}

interface NodeHistory {
  /** Store time since which the node has been NotReady; undefined while Ready. */
  notReadySince: number | undefined;
  /** Since when the node has been Ready, up and connected without a break; undefined otherwise. */
  healthySince: number | undefined;
}

export class Liveness {
  private readonly history = new Map<string, NodeHistory>();
  /** The current leader's term (the leader key's create revision) and since when it has held. */
  private term: { revision: number; since: number } | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly nodes: readonly SimNode[],
  ) {
    for (const node of nodes) {
      this.history.set(node.id, { notReadySince: clock.now(), healthySince: undefined });
    }
  }

  /** Samples the store and the processes; called after every step. */
  async observe(): Promise<void> {
    const now = this.clock.now();
    const leader = await this.store.get(keys.leader);
    if (!leader) this.term = undefined;
    else if (this.term?.revision !== leader.createRevision)
      this.term = { revision: leader.createRevision, since: now };
    const alive = new Set(
      (await this.store.range(keys.alivePrefix)).kvs.map((kv) => nameFromKey(keys.alivePrefix, kv.key)),
    );
    for (const node of this.nodes) {
      const h = this.history.get(node.id)!;
      const ready = alive.has(node.id);
      if (ready) h.notReadySince = undefined;
      else h.notReadySince ??= now;
      const healthy = ready && node.up && !node.partitioned;
      if (healthy) h.healthySince ??= now;
      else h.healthySince = undefined;
    }
  }

  /**
   * VMs still assigned to a node that has been NotReady for longer than TTL + grace (+ 2 s for the
   * scheduler's tick and the store's latency), counted from the latest of: the node turning NotReady,
   * some other node that could run them being healthy, and the current leader's term starting (a new
   * leader cannot know how long the node has been gone, so its grace period starts afresh; and when
   * the lost node led, no node leads until its lease has run out too).
   */
  async overdue(config: { leaseTtlSeconds: number; failoverGraceSeconds: number }): Promise<OverdueVm[]> {
    const lost = [...this.history.entries()].filter(([, h]) => h.notReadySince !== undefined);
    const term = this.term;
    if (lost.length === 0 || !term) return [];
    const now = this.clock.now();
    const boundMs = (config.leaseTtlSeconds + config.failoverGraceSeconds + 2) * 1000;
    const vms = await scheduledVms(this.store);
    const used = assignedResources(vms);
    const configs = new Map(this.nodes.map((n) => [n.id, n.config]));
    const out: OverdueVm[] = [];
    for (const [id, h] of lost) {
      for (const vm of vms) {
        if (vm.node !== id || vm.deleting || vm.spec.placement.node !== undefined) continue;
        // The earliest moment since the loss from which some node that fits the VM has been healthy.
        let from: number | undefined;
        for (const [otherId, other] of this.history) {
          if (otherId === id || other.healthySince === undefined) continue;
          if (!fits(vm, configs.get(otherId)!, used.get(otherId))) continue;
          const start = Math.max(h.notReadySince!, other.healthySince, term.since);
          from = from === undefined ? start : Math.min(from, start);
        }
        if (from !== undefined && now - from > boundMs) {
          out.push({ vm: vm.name, node: id, overdueForMs: now - from, boundMs });
        }
      }
    }
    return out;
  }
}

/** What the VMs assigned to each node ask for (VMs being deleted hold theirs until gone). */
export function assignedResources(vms: readonly ScheduledVm[]): Map<string, Resources> {
  const used = new Map<string, Resources>();
  for (const vm of vms) {
    if (vm.node === "") continue;
    const u = used.get(vm.node) ?? { vcpus: 0, memoryMiB: 0 };
    u.vcpus += vm.spec.vcpus;
    u.memoryMiB += vm.spec.memory;
    used.set(vm.node, u);
  }
  return used;
}

/** What the host really offers VMs: its hardware and flags, not what its record claims. */
export function hostAllocatable(config: SimNodeConfig): Resources {
  return allocatable(config.capacity, config.allowance.reserved, config.allowance.overcommit);
}

/**
 * Whether a host could take the VM: its labels match the VM's constraints, and what its assigned VMs
 * use leaves room. Written apart from placement's filter on purpose, so that a bug there cannot hide.
 */
export function fits(
  vm: Pick<ScheduledVm, "spec">,
  host: SimNodeConfig,
  used: Resources | undefined,
): boolean {
  for (const text of vm.spec.placement.constraints) {
    const c = parseConstraint(text);
    if (!c) return false;
    const value = host.labels[c.key];
    if (c.op === "=" ? value !== c.value : value === c.value) return false;
  }
  if (!host.capacity.drivers.includes(vm.spec.driver)) return false;
  const total = hostAllocatable(host);
  return (
    total.vcpus - (used?.vcpus ?? 0) >= vm.spec.vcpus &&
    total.memoryMiB - (used?.memoryMiB ?? 0) >= vm.spec.memory
  );
}
