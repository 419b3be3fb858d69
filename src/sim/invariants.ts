/** The properties every simulation run must keep: safety after every step, convergence once quiescent. */
import { keys, nameFromKey } from "../core/keys.js";
import type { VmRecord, VmStatus } from "../core/vm-record.js";
import type { Store } from "../ports/store.js";
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
] as const;

export type InvariantName = (typeof INVARIANTS)[number];

export interface Violation {
  invariant: InvariantName;
  detail: string;
}

/** At most one running copy of each VM, and only on the node it is assigned to... checked per step. */
export function checkSafety(nodes: readonly SimNode[], step: number): Violation[] {
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
  return violations;
}

/** Once quiescent: desired equals observed, and the reported status matches the hypervisor. */
export async function checkConverged(store: Store, nodes: readonly SimNode[]): Promise<Violation[]> {
  const violations: Violation[] = [];
  const fail = (invariant: InvariantName, detail: string) => violations.push({ invariant, detail });
  const [vms, statuses] = await Promise.all([store.range(keys.vmsPrefix), store.range(keys.statusPrefix)]);
  const records = new Map(
    vms.kvs.map((kv) => [nameFromKey(keys.vmsPrefix, kv.key), JSON.parse(kv.value) as VmRecord]),
  );
  const status = new Map(
    statuses.kvs.map((kv) => [nameFromKey(keys.statusPrefix, kv.key), JSON.parse(kv.value) as VmStatus]),
  );
  const byId = new Map(nodes.map((n) => [n.id, n]));

  for (const [name, record] of records) {
    if (record.deleting) {
      fail("deletion-completes", `${name} is still marked deleting`);
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
    }
  }
  return violations;
}
