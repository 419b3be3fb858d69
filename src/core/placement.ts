/**
 * Placement: which node a VM should run on. Pure, so that the leader's scheduler, its tests, the
 * benchmark and the simulator all run the same decisions.
 *
 * Filter, then score. Every node is checked against the request (readiness, cordon, driver, labels,
 * replica anti-affinity, host ports, free vcpus and memory); feasible nodes are scored by the
 * strategy. Like Nomad, a large cluster is not scored in full: nodes are visited from a random start
 * and the best of the first `limit` feasible ones wins (every node of a cluster of up to 32, else
 * max(32, 2·⌈log2 n⌉)), so the cost of a placement stays nearly flat as the cluster grows while most
 * nodes fit. Only when nothing fits is every node visited, to say for each why it did not. The nodes
 * are read through a CandidateTable (core/candidate-table.ts), whose columns keep that flat cost flat
 * on clusters too large for the CPU caches.
 */

import { CandidateTable, type CompiledRequest } from "./candidate-table.js";
import type { Candidate, Constraint, PlacementRequest, Resources } from "./placement-types.js";

export {
  type Candidate,
  type Constraint,
  type PlacementRequest,
  type Resources,
  STRATEGIES,
  type Strategy,
} from "./placement-types.js";

export interface NodeReason {
  node: string;
  reason: string;
}

export type Placement =
  | {
      ok: true;
      node: string;
      /** The node's row in the table: count the VM there with CandidateTable.assign. */
      index: number;
      score: number;
      evaluated: number;
    }
  | { ok: false; reasons: NodeReason[]; message: string };

export interface PlaceOptions {
  /** Uniform in [0, 1): picks where the visit starts. */
  random: () => number;
  /** Feasible nodes to score before choosing; defaultLimit(n) by default. */
  limit?: number;
}

export interface Overcommit {
  cpu: number;
  memory: number;
}

export function allocatable(capacity: Resources, reserved: Resources, overcommit: Overcommit): Resources {
  return {
    vcpus: Math.max(0, Math.floor((capacity.vcpus - reserved.vcpus) * overcommit.cpu)),
    memoryMiB: Math.max(0, Math.floor((capacity.memoryMiB - reserved.memoryMiB) * overcommit.memory)),
  };
}

/** Why node `i` of the table cannot take the VM, or undefined when it can. */
export function whyNotAt(table: CandidateTable, i: number, q: CompiledRequest): string | undefined {
  if (!table.ready(i)) return "NotReady";
  if (!table.schedulable(i)) return "cordoned";
  const { req } = q;
  if (q.driver === undefined || q.driver[i] === 0) return `no ${req.driver} driver`;
  if (q.network !== null && (q.network === undefined || q.network[i] === 0)) {
    return `no ${req.network} network (start the node with --bridge-network on)`;
  }
  for (const c of q.constraints) {
    const value = c.column === undefined ? 0 : c.column[i];
    if (c.equal ? value !== c.value : value === c.value) {
      const { key } = c.source;
      return c.equal
        ? `label ${key}=${table.label(i, key) ?? "(unset)"} does not match ${key}=${c.source.value}`
        : `label ${key}=${c.source.value} is excluded`;
    }
  }
  if (q.group?.has(i)) return `already runs a replica of ${req.group}`;
  for (const { port, nodes } of q.ports) if (nodes.has(i)) return `host port ${port} is taken`;
  const vcpusLeft = table.vcpus[i]! - table.usedVcpus[i]!;
  if (vcpusLeft < req.resources.vcpus) {
    return `not enough vcpus (needs ${req.resources.vcpus}, ${Math.max(0, vcpusLeft)} free)`;
  }
  const memoryLeft = table.memoryMiB[i]! - table.usedMemoryMiB[i]!;
  if (memoryLeft < req.resources.memoryMiB) {
    return `not enough memory (needs ${req.resources.memoryMiB} MiB, ${Math.max(0, memoryLeft)} free)`;
  }
  return undefined;
}

/** Why `node` cannot take the VM, or undefined when it can. */
export function whyNot(node: Candidate, req: PlacementRequest): string | undefined {
  const table = CandidateTable.from([node]);
  return whyNotAt(table, 0, table.compile(req));
}

/** Higher is better. binpack: best fit; spread: most room left; locality: images already there. */
function scoreAt(table: CandidateTable, i: number, req: PlacementRequest): number {
  // How full the node would be with the VM, 0..1, averaged over vcpus and memory.
  const cpu = (table.usedVcpus[i]! + req.resources.vcpus) / Math.max(1, table.vcpus[i]!);
  const mem = (table.usedMemoryMiB[i]! + req.resources.memoryMiB) / Math.max(1, table.memoryMiB[i]!);
  const full = (cpu + mem) / 2;
  switch (req.strategy) {
    case "binpack":
      return full;
    case "spread":
      return 1 - full;
    case "locality": {
      const images = req.images ?? [];
      const hits = images.filter((image) => table.holdsImage(i, image)).length;
      // Images decide; among equal nodes, pack (a warm host stays warm).
      return (images.length === 0 ? 0 : hits / images.length) + full / 100;
    }
  }
}

/** Every node of a small cluster; 32, or 2·⌈log2 n⌉ when larger, of a big one. */
export function defaultLimit(nodes: number): number {
  return Math.min(nodes, Math.max(32, 2 * Math.ceil(Math.log2(Math.max(1, nodes)))));
}

/** Places on a plain list of candidates (tests, one-off decisions); a pass over many VMs keeps a table. */
export function place(nodes: readonly Candidate[], req: PlacementRequest, options: PlaceOptions): Placement {
  return placeIn(CandidateTable.from(nodes), req, options);
}

/** Chooses a node of the table for the VM. The caller counts the VM with table.assign(index, …). */
export function placeIn(table: CandidateTable, req: PlacementRequest, options: PlaceOptions): Placement {
  const q = table.compile(req);
  // A local volume ties the VM to the volume's node, as a manual placement does; the reason says so.
  const pinned = req.volumeNode?.node ?? req.node;
  if (pinned !== undefined) {
    const held = req.volumeNode ? `holds local volume ${req.volumeNode.volume}, but is ` : "";
    const i = table.indexOf(pinned);
    if (i === undefined) return refuse([{ node: pinned, reason: `${held}no such node` }], req);
    const reason =
      req.node !== undefined && req.node !== pinned ? `not node ${req.node}` : whyNotAt(table, i, q);
    if (reason) return refuse([{ node: pinned, reason: `${held}${reason}` }], req);
    return { ok: true, node: pinned, index: i, score: scoreAt(table, i, req), evaluated: 1 };
  }
  const n = table.size;
  if (n === 0) return refuse([], req);
  const limit = options.limit ?? defaultLimit(n);
  const start = Math.min(n - 1, Math.floor(options.random() * n));
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  let feasible = 0;
  let visited = 0;
  for (; visited < n && feasible < limit; visited++) {
    let i = start + visited;
    if (i >= n) i -= n;
    if (!fits(table, i, q)) continue;
    feasible++;
    const s = scoreAt(table, i, req);
    // Ties go to the first visited: the visit order is already random and reproducible.
    if (s > bestScore) {
      best = i;
      bestScore = s;
    }
  }
  if (best >= 0)
    return { ok: true, node: table.ids[best]!, index: best, score: bestScore, evaluated: visited };
  return refuse(
    table.ids.map((id, i) => ({ node: id, reason: whyNotAt(table, i, q) ?? "fits" })),
    req,
  );
}

/** whyNotAt(…) === undefined, without building the reason: the visit's inner loop. */
function fits(table: CandidateTable, i: number, q: CompiledRequest): boolean {
  if (!table.ready(i) || !table.schedulable(i)) return false;
  if (q.driver === undefined || q.driver[i] === 0) return false;
  if (q.network !== null && (q.network === undefined || q.network[i] === 0)) return false;
  for (const c of q.constraints) {
    const value = c.column === undefined ? 0 : c.column[i];
    if (c.equal ? value !== c.value : value === c.value) return false;
  }
  if (q.group?.has(i)) return false;
  for (const { nodes } of q.ports) if (nodes.has(i)) return false;
  const { resources } = q.req;
  return (
    table.vcpus[i]! - table.usedVcpus[i]! >= resources.vcpus &&
    table.memoryMiB[i]! - table.usedMemoryMiB[i]! >= resources.memoryMiB
  );
}

function refuse(reasons: NodeReason[], req: PlacementRequest): Placement {
  return { ok: false, reasons, message: unplaceableMessage(req.vm, reasons) };
}

/** "no node fits VM big: node-a: not enough memory (…); node-b, node-c: NotReady"; grouped, capped. */
export function unplaceableMessage(vm: string, reasons: readonly NodeReason[]): string {
  if (reasons.length === 0) return `no node can run VM ${vm}: the cluster has no nodes`;
  const byReason = new Map<string, string[]>();
  for (const { node, reason } of reasons) byReason.set(reason, [...(byReason.get(reason) ?? []), node]);
  const parts = [...byReason.entries()].map(([reason, ids]) => {
    const who = ids.length <= 3 ? ids.join(", ") : `${ids.slice(0, 3).join(", ")} and ${ids.length - 3} more`;
    return `${who}: ${reason}`;
  });
  return `no node can run VM ${vm}: ${parts.join("; ")}`;
}

/** Parses `--constraint` values: `key=value` or `key!=value`. */
export function parseConstraint(text: string): Constraint | undefined {
  const match = /^([A-Za-z0-9][-A-Za-z0-9_./]*)(!=|=)(.*)$/.exec(text);
  if (!match) return undefined;
  return { key: match[1]!, op: match[2] as "=" | "!=", value: match[3]! };
}
