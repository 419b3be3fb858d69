import { describe, expect, it } from "vitest";
import { type Candidate, type PlacementRequest, place } from "./placement.js";

const node = (id: string, overrides: Partial<Candidate> = {}): Candidate => ({
  id,
  labels: {},
  drivers: ["qemu"],
  networks: ["user"],
  ready: true,
  schedulable: true,
  vcpus: 8,
  memoryMiB: 8192,
  usedVcpus: 0,
  usedMemoryMiB: 0,
  groups: new Set(),
  ports: new Set(),
  images: new Set(),
  ...overrides,
});

const request = (overrides: Partial<PlacementRequest> = {}): PlacementRequest => ({
  vm: "web",
  resources: { vcpus: 1, memoryMiB: 1024 },
  driver: "qemu",
  constraints: [],
  strategy: "spread",
  volumeNode: { volume: "data", node: "node-b" },
  ...overrides,
});

describe("placement of a VM with a local volume", () => {
  it("places it on the volume's node only, even when another node has more room", () => {
    const nodes = [node("node-a"), node("node-b", { usedVcpus: 7, usedMemoryMiB: 7000 }), node("node-c")];
    for (const r of [0, 0.5, 0.99]) {
      expect(place(nodes, request(), { random: () => r })).toMatchObject({ ok: true, node: "node-b" });
    }
  });

  it("refuses while the volume's node is down, naming the volume and the node", () => {
    const nodes = [node("node-a"), node("node-b", { ready: false })];
    const placed = place(nodes, request(), { random: () => 0 });
    expect(placed).toMatchObject({
      ok: false,
      message: "no node can run VM web: node-b: holds local volume data, but is NotReady",
    });
  });

  it("refuses when the volume's node is gone from the cluster, or full", () => {
    expect(place([node("node-a")], request(), { random: () => 0 })).toMatchObject({
      ok: false,
      message: "no node can run VM web: node-b: holds local volume data, but is no such node",
    });
    const full = [node("node-b", { usedMemoryMiB: 8000 })];
    const placed = place(full, request(), { random: () => 0 });
    expect(placed.ok ? "" : placed.message).toContain(
      "node-b: holds local volume data, but is not enough memory",
    );
  });

  it("refuses a manual placement on another node than the volume's", () => {
    const placed = place([node("node-a"), node("node-b")], request({ node: "node-a" }), { random: () => 0 });
    expect(placed.ok ? "" : placed.message).toContain(
      "node-b: holds local volume data, but is not node node-a",
    );
  });
});
