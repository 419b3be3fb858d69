/** The properties every simulation run must keep: safety after every step, convergence once quiescent. */
import { keys, nameFromKey } from "../core/keys.js";
import type { ScheduledVm } from "../core/vm-record.js";
import type { Store } from "../ports/store.js";
import { scheduledVms, vmStatusOf } from "./decode.js";
import { assignedResources, fits, hostAllocatable, type OverdueVm } from "./liveness.js";
import type { SimNode } from "./sim-node.js";

/** Every invariant the checks below can report, in the order they are checked. */
export const INVARIANTS = [
  "single-copy",
  "deletion-completes",
  "desired-running-runs",
  "status-matches",
  "desired-stopped-stops",
  "no-orphan-status",
  "no-lost-vm",
  "fencing",
  "capacity",
  "placement-converges",
  "timely-failover",
] as const;

export type InvariantName = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: InvariantName;
  detail: string;
}

/**
 * Checked after every step: at most one running copy of each VM; no host runs VMs that ask for more
 * than it offers (its hardware less its reservation, times its overcommit).
 */
export function checkSafety(
  nodes: readonly SimNode[],
  step: number,
  vms: readonly ScheduledVm[],
): Violation[] {
  const where = new Map<string, string[]>();
  for (const node of nodes) {
    for (const name of node.driver.running()) where.set(name, [...(where.get(name) ?? []), node.id]);
  }
  const violations: Violation[] = [];
  for (const [name, hosts] of where) {
    if (hosts.length > 1) {
      violations.push({
        invariant: "single-copy",
        detail: `step ${step}: ${name} runs on ${hosts.join(", ")}`,
      });
    }
  }
  const specs = new Map(vms.map((vm) => [vm.name, vm.spec]));
  for (const node of nodes) {
    const total = hostAllocatable(node.config);
    let vcpus = 0;
    let memory = 0;
    for (const name of node.driver.running()) {
      // What the process runs with (a grown spec reaches a node only once the leader approves it).
      const started = node.driver.vm(name)?.resources;
      vcpus += started?.vcpus ?? specs.get(name)?.vcpus ?? 0;
      memory += started?.memoryMiB ?? specs.get(name)?.memory ?? 0;
    }
    if (vcpus > total.vcpus || memory > total.memoryMiB) {
      violations.push({
        invariant: "capacity",
        detail:
          `step ${step}: ${node.id} runs VMs asking for ${vcpus} vcpus and ${memory} MiB ` +
          `but offers ${total.vcpus} vcpus and ${total.memoryMiB} MiB`,
      });
    }
  }
  return violations;
}

/** Checked after every step: a lost node's VMs are moved within the failover bound (liveness.ts). */
export function checkTimelyFailover(overdue: readonly OverdueVm[], step: number): Violation[] {
  return overdue.map((o) => ({
    invariant: "timely-failover" as const,
    detail:
      `step ${step}: ${o.vm} is still assigned to ${o.node}, NotReady for ${(o.overdueForMs / 1000).toFixed(1)} s ` +
      `while another node could run it (bound ${(o.boundMs / 1000).toFixed(1)} s)`,
  }));
}

/** Once quiescent: desired equals observed, and the reported status matches the hypervisor. */
export async function checkConverged(store: Store, nodes: readonly SimNode[]): Promise<Violation[]> {
  const violations: Violation[] = [];
  const fail = (invariant: InvariantName, detail: string) => violations.push({ invariant, detail });
  const [vms, statuses, assignments] = await Promise.all([
    scheduledVms(store),
    store.range(keys.statusPrefix),
    store.range(keys.assignmentsPrefix),
  ]);
  const records = new Map(vms.map((vm) => [vm.name, vm]));
  const assigned = new Set(assignments.kvs.map((kv) => kv.key));
  const status = new Map(
    statuses.kvs.map((kv) => [nameFromKey(keys.statusPrefix, kv.key), vmStatusOf(kv.key, kv.value)]),
  );
  const byId = new Map(nodes.map((n) => [n.id, n]));

  const used = assignedResources([...records.values()]);
  const ready = new Set(
    (await store.range(keys.alivePrefix)).kvs.map((kv) => nameFromKey(keys.alivePrefix, kv.key)),
  );
  for (const [name, record] of records) {
    if (record.deleting) {
      fail("deletion-completes", `${name} is still marked deleting`);
      continue;
    }
    if (record.node === "") {
      // Pending: only right when no Ready node could take it, and then it says why.
      const pin = record.spec.placement.node;
      const host = nodes.find(
        (n) =>
          ready.has(n.id) && (pin === undefined || pin === n.id) && fits(record, n.config, used.get(n.id)),
      );
      if (host) {
        const why = record.unschedulable ?? "never tried";
        fail("placement-converges", `${name} is Pending (${why}) but fits on ${host.id}`);
      } else if (record.unschedulable === undefined)
        fail("placement-converges", `${name} is Pending without saying why`);
      continue;
    }
    const node = byId.get(record.node);
    const runtime = node ? await node.driver.inspect(name) : { state: "absent" as const };
    const observed = status.get(name);
    if (record.desiredState === "running") {
      if (runtime.state !== "running")
        fail("desired-running-runs", `${name} is desired running but its process is ${runtime.state}`);
      if (observed?.phase !== "Running")
        fail("status-matches", `${name} runs but reports ${observed?.phase ?? "no status"}`);
      if (runtime.state === "running" && observed?.pid !== runtime.pid) {
        fail("status-matches", `${name} reports pid ${observed?.pid} but runs as ${runtime.pid}`);
      }
    } else {
      if (runtime.state === "running") fail("desired-stopped-stops", `${name} is desired stopped but runs`);
      if (observed?.phase !== "Stopped")
        fail("status-matches", `${name} is stopped but reports ${observed?.phase ?? "no status"}`);
    }
  }
  for (const name of status.keys()) {
    if (!records.has(name)) fail("no-orphan-status", `${name} has a status but no record`);
  }
  for (const node of nodes) {
    for (const name of node.driver.running()) {
      const record = records.get(name);
      if (!record) fail("no-lost-vm", `${name} runs on ${node.id} without a record`);
      else if (record.node !== node.id)
        fail("fencing", `${name} runs on ${node.id} but is assigned to ${record.node}`);
      else if (!assigned.has(keys.assignment(node.id, name)))
        fail("fencing", `${name} runs on ${node.id}, its placement, but that node holds no assignment of it`);
    }
  }
  return violations;
}
