/**
 * The column-based placement must decide exactly as the plain object-based one it replaced: the same
 * node, score, number of visited nodes and reasons, over random clusters and request sequences. The
 * reference below is that earlier implementation, kept here as the model.
 */
import { describe, expect, it } from "vitest";
import { CandidateTable } from "./candidate-table.js";
import {
  type Candidate,
  type Constraint,
  defaultLimit,
  type NodeReason,
  type PlacementRequest,
  placeIn,
  STRATEGIES,
  unplaceableMessage,
} from "./placement.js";

interface ModelNode extends Candidate {
  groups: Set<string>;
  ports: Set<string>;
}

function modelWhyNot(node: ModelNode, req: PlacementRequest): string | undefined {
  if (!node.ready) return "NotReady";
  const vcpusLeft = node.vcpus - node.usedVcpus;
  const memoryLeft = node.memoryMiB - node.usedMemoryMiB;
  if (!node.schedulable) return "cordoned";
  if (!node.drivers.includes(req.driver)) return `no ${req.driver} driver`;
  if (req.network !== undefined && req.network !== "user" && !node.networks.includes(req.network)) {
    return `no ${req.network} network (start the node with --bridge-network on)`;
  }
  for (const c of req.constraints) {
    const value = node.labels[c.key];
    if (c.op === "=" && value !== c.value) {
      return `label ${c.key}=${value ?? "(unset)"} does not match ${c.key}=${c.value}`;
    }
    if (c.op === "!=" && value === c.value) return `label ${c.key}=${value} is excluded`;
  }
  if (req.group !== undefined && node.groups.has(req.group)) return `already runs a replica of ${req.group}`;
  const taken = req.ports?.find((p) => node.ports.has(p));
  if (taken !== undefined) return `host port ${taken} is taken`;
  if (vcpusLeft < req.resources.vcpus) {
    return `not enough vcpus (needs ${req.resources.vcpus}, ${Math.max(0, vcpusLeft)} free)`;
  }
  if (memoryLeft < req.resources.memoryMiB) {
    return `not enough memory (needs ${req.resources.memoryMiB} MiB, ${Math.max(0, memoryLeft)} free)`;
  }
  return undefined;
}

function modelScore(node: ModelNode, req: PlacementRequest): number {
  const cpu = (node.usedVcpus + req.resources.vcpus) / Math.max(1, node.vcpus);
  const mem = (node.usedMemoryMiB + req.resources.memoryMiB) / Math.max(1, node.memoryMiB);
  const full = (cpu + mem) / 2;
  if (req.strategy === "binpack") return full;
  if (req.strategy === "spread") return 1 - full;
  const images = req.images ?? [];
  const hits = images.filter((image) => node.images.has(image)).length;
  return (images.length === 0 ? 0 : hits / images.length) + full / 100;
}

type ModelPlacement =
  | { ok: true; node: string; score: number; evaluated: number }
  | { ok: false; reasons: NodeReason[]; message: string };

function modelPlace(
  nodes: ModelNode[],
  req: PlacementRequest,
  random: number,
  limit?: number,
): ModelPlacement {
  const refuse = (reasons: NodeReason[]): ModelPlacement => ({
    ok: false,
    reasons,
    message: unplaceableMessage(req.vm, reasons),
  });
  if (req.node !== undefined) {
    const node = nodes.find((n) => n.id === req.node);
    if (!node) return refuse([{ node: req.node, reason: "no such node" }]);
    const reason = modelWhyNot(node, req);
    if (reason) return refuse([{ node: node.id, reason }]);
    return { ok: true, node: node.id, score: modelScore(node, req), evaluated: 1 };
  }
  const n = nodes.length;
  if (n === 0) return refuse([]);
  const cap = limit ?? defaultLimit(n);
  const start = Math.min(n - 1, Math.floor(random * n));
  let best: ModelNode | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  let feasible = 0;
  let visited = 0;
  for (; visited < n && feasible < cap; visited++) {
    const node = nodes[(start + visited) % n]!;
    if (modelWhyNot(node, req) !== undefined) continue;
    feasible++;
    const s = modelScore(node, req);
    if (s > bestScore) {
      best = node;
      bestScore = s;
    }
  }
  if (best) return { ok: true, node: best.id, score: bestScore, evaluated: visited };
  return refuse(nodes.map((node) => ({ node: node.id, reason: modelWhyNot(node, req) ?? "fits" })));
}

function generator(seed: number) {
  let state = seed;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const some = <T>(items: readonly T[]): T[] => items.filter(() => next() < 0.3);
  return { next, int, pick, some };
}

const ZONES = ["a", "b", "c", ""];
const PORTS = ["tcp/80", "tcp/443", "udp/53"];
const IMAGES = ["/k1", "/k2", "/disk"];
const GROUPS = ["web", "db"];

function cluster(g: ReturnType<typeof generator>): ModelNode[] {
  return Array.from({ length: g.int(40) }, (_, i) => {
    const labels: Record<string, string> = {};
    if (g.next() < 0.8) labels.zone = g.pick(ZONES);
    if (g.next() < 0.3) labels.gpu = g.pick(["yes", "no"]);
    const vcpus = g.int(16);
    const memoryMiB = 1024 * g.int(16);
    return {
      id: `n${i}`,
      labels,
      drivers: g.next() < 0.9 ? ["qemu", ...(g.next() < 0.3 ? ["microvm-nix"] : [])] : ["microvm-nix"],
      networks: g.next() < 0.5 ? ["user", "bridge"] : ["user"],
      ready: g.next() < 0.9,
      schedulable: g.next() < 0.9,
      vcpus,
      memoryMiB,
      usedVcpus: g.int(vcpus + 2),
      usedMemoryMiB: 512 * g.int(memoryMiB / 512 + 2),
      groups: new Set(g.some(GROUPS)),
      ports: new Set(g.some(PORTS)),
      images: new Set(g.some(IMAGES)),
    };
  });
}

function request(g: ReturnType<typeof generator>, nodes: ModelNode[], i: number): PlacementRequest {
  const constraints: Constraint[] = Array.from({ length: g.int(3) }, () => ({
    key: g.pick(["zone", "gpu", "rack"]),
    op: g.pick(["=", "!="] as const),
    value: g.pick([...ZONES, "yes", "zz"]),
  }));
  const req: PlacementRequest = {
    vm: `vm${i}`,
    resources: { vcpus: 1 + g.int(4), memoryMiB: 512 * (1 + g.int(8)) },
    driver: g.pick(["qemu", "qemu", "microvm-nix", "firecracker"]),
    network: g.pick(["user", "bridge", "user"]),
    constraints,
    strategy: g.pick(STRATEGIES),
    ports: g.some(PORTS),
    images: g.some(IMAGES),
  };
  if (g.next() < 0.4) req.group = g.pick(GROUPS);
  if (g.next() < 0.1) req.node = g.next() < 0.8 && nodes.length > 0 ? g.pick(nodes).id : "nope";
  return req;
}

describe("CandidateTable placement", () => {
  it("decides as the object-based model over random clusters and request sequences", () => {
    let placed = 0;
    let refused = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const g = generator(seed);
      const nodes = cluster(g);
      const table = CandidateTable.from(nodes);
      for (let i = 0; i < 25; i++) {
        const req = request(g, nodes, i);
        const random = g.next();
        const limit = g.next() < 0.3 ? 1 + g.int(5) : undefined;
        const options = { random: () => random, ...(limit === undefined ? {} : { limit }) };
        const actual = placeIn(table, req, options);
        const expected = modelPlace(nodes, req, random, limit);
        const { index: _index, ...comparable } = actual.ok ? actual : { ...actual, index: 0 };
        expect(comparable, `seed ${seed} request ${i}`).toEqual(expected);
        if (!actual.ok) {
          refused++;
          continue;
        }
        placed++;
        expect(table.ids[actual.index]).toBe(actual.node);
        table.assign(actual.index, req.resources, req);
        const node = nodes.find((n) => n.id === actual.node)!;
        node.usedVcpus += req.resources.vcpus;
        node.usedMemoryMiB += req.resources.memoryMiB;
        for (const port of req.ports ?? []) node.ports.add(port);
        if (req.group !== undefined) node.groups.add(req.group);
      }
    }
    // Both outcomes are well exercised.
    expect(placed).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(1000);
  });
});
