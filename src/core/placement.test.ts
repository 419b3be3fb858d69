import { describe, expect, it } from "vitest";
import {
  allocatable,
  type Candidate,
  defaultLimit,
  type PlacementRequest,
  parseConstraint,
  place,
  whyNot,
} from "./placement.js";

const node = (id: string, overrides: Partial<Candidate> = {}): Candidate => ({
  id,
  labels: {},
  drivers: ["qemu"],
  networks: ["user", "bridge"],
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
  strategy: "binpack",
  ...overrides,
});

const first = () => 0;

describe("placement", () => {
  it("derives what VMs may use from capacity, reservation and overcommit", () => {
    expect(
      allocatable({ vcpus: 8, memoryMiB: 16384 }, { vcpus: 1, memoryMiB: 1024 }, { cpu: 4, memory: 1 }),
    ).toEqual({ vcpus: 28, memoryMiB: 15360 });
    expect(
      allocatable({ vcpus: 1, memoryMiB: 512 }, { vcpus: 2, memoryMiB: 1024 }, { cpu: 1, memory: 1 }),
    ).toEqual({
      vcpus: 0,
      memoryMiB: 0,
    });
  });

  it("binpack picks the fullest node that fits, spread the emptiest", () => {
    const nodes = [
      node("a", { usedVcpus: 2, usedMemoryMiB: 2048 }),
      node("b", { usedVcpus: 6, usedMemoryMiB: 6144 }),
      node("c"),
    ];
    expect(place(nodes, request(), { random: first })).toMatchObject({ ok: true, node: "b" });
    expect(place(nodes, request({ strategy: "spread" }), { random: first })).toMatchObject({
      ok: true,
      node: "c",
    });
  });

  it("locality prefers nodes that already hold the VM's images", () => {
    const nodes = [
      node("a"),
      node("b", { images: new Set(["/img/k", "/img/disk"]) }),
      node("c", { images: new Set(["/img/k"]) }),
    ];
    const req = request({ strategy: "locality", images: ["/img/k", "/img/disk"] });
    expect(place(nodes, req, { random: first })).toMatchObject({ ok: true, node: "b" });
  });

  it("honours label constraints, drivers, cordons, readiness, ports and replica anti-affinity", () => {
    const nodes = [
      node("eu", { labels: { zone: "eu" } }),
      node("us", { labels: { zone: "us" } }),
      node("off", { labels: { zone: "eu" }, ready: false }),
      node("cordoned", { labels: { zone: "eu" }, schedulable: false }),
    ];
    expect(
      place(nodes, request({ constraints: [{ key: "zone", op: "=", value: "eu" }] }), { random: first }),
    ).toMatchObject({
      node: "eu",
    });
    expect(
      place(nodes, request({ constraints: [{ key: "zone", op: "!=", value: "eu" }] }), { random: first }),
    ).toMatchObject({
      node: "us",
    });
    expect(whyNot(node("x", { drivers: ["microvm-nix"] }), request())).toBe("no qemu driver");
    expect(whyNot(node("x", { networks: ["user"] }), request({ network: "bridge" }))).toBe(
      "no bridge network (start the node with --bridge-network on)",
    );
    expect(whyNot(node("x", { networks: ["user"] }), request({ network: "user" }))).toBeUndefined();
    expect(whyNot(node("x", { groups: new Set(["web"]) }), request({ group: "web" }))).toBe(
      "already runs a replica of web",
    );
    expect(whyNot(node("x", { ports: new Set(["tcp/8080"]) }), request({ ports: ["tcp/8080"] }))).toBe(
      "host port tcp/8080 is taken",
    );
  });

  it("says for each node why a VM too large for all of them cannot be placed", () => {
    const nodes = [node("a"), node("b", { usedVcpus: 8 }), node("c", { ready: false })];
    const result = place(nodes, request({ vm: "huge", resources: { vcpus: 2, memoryMiB: 65536 } }), {
      random: first,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reasons).toEqual([
      { node: "a", reason: "not enough memory (needs 65536 MiB, 8192 free)" },
      { node: "b", reason: "not enough vcpus (needs 2, 0 free)" },
      { node: "c", reason: "NotReady" },
    ]);
    expect(result.message).toBe(
      "no node can run VM huge: a: not enough memory (needs 65536 MiB, 8192 free); b: not enough vcpus (needs 2, 0 free); c: NotReady",
    );
  });

  it("groups and caps the reasons of large clusters", () => {
    const nodes = Array.from({ length: 50 }, (_, i) => node(`n${i}`, { ready: false }));
    const result = place(nodes, request(), { random: first });
    expect(!result.ok && result.message).toBe("no node can run VM web: n0, n1, n2 and 47 more: NotReady");
  });

  it("places manually on the named node, or says why not", () => {
    const nodes = [node("a"), node("b", { schedulable: false })];
    expect(place(nodes, request({ node: "a" }), { random: first })).toMatchObject({ ok: true, node: "a" });
    expect(place(nodes, request({ node: "b" }), { random: first })).toMatchObject({
      ok: false,
      message: "no node can run VM web: b: cordoned",
    });
    expect(place(nodes, request({ node: "zz" }), { random: first })).toMatchObject({
      ok: false,
      message: "no node can run VM web: zz: no such node",
    });
  });

  it("scores only a logarithmic sample of a large cluster where most nodes fit", () => {
    const nodes = Array.from({ length: 50_000 }, (_, i) => node(`n${i}`));
    const result = place(nodes, request(), { random: () => 0.5 });
    expect(defaultLimit(50_000)).toBe(32);
    expect(defaultLimit(2 ** 20)).toBe(40);
    expect(defaultLimit(3)).toBe(3);
    expect(result).toMatchObject({ ok: true, evaluated: 32 });
  });

  it("keeps looking past infeasible nodes for feasible ones", () => {
    const nodes = [...Array.from({ length: 10 }, (_, i) => node(`full${i}`, { ready: false })), node("free")];
    expect(place(nodes, request(), { random: first })).toMatchObject({
      ok: true,
      node: "free",
      evaluated: 11,
    });
  });

  it("parses constraints", () => {
    expect(parseConstraint("zone=eu")).toEqual({ key: "zone", op: "=", value: "eu" });
    expect(parseConstraint("tier!=gpu")).toEqual({ key: "tier", op: "!=", value: "gpu" });
    expect(parseConstraint("novalue")).toBeUndefined();
  });
});
