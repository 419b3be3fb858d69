/**
 * Placement on a real 3-node cluster with managed etcd: the leader's scheduler honours capacity
 * (each node reserves all but 512 MiB of this machine's memory), label constraints, strategies and
 * manual placement, and a VM that fits nowhere stays Pending with each node's reason.
 */
import { totalmem } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idOf, image, TestNode, until } from "./harness.js";

interface VmJson {
  status: { phase: string; node: string; message: string };
}

const ALLOCATABLE_MIB = 512;
const reserve = String(Math.floor(totalmem() / 2 ** 20) - ALLOCATABLE_MIB);

describe("placement across a 3-node cluster", () => {
  let a: TestNode;
  let b: TestNode;
  let c: TestNode;
  const common = ["--reserve-memory", reserve, "--lease-ttl", "2"];

  beforeAll(async () => {
    a = await TestNode.start(["--cluster-init", "--label", "zone=eu", ...common], { portSpan: 3 });
    const token = a.joinToken();
    const join_ = ["--join", `127.0.0.1:${a.port}`, "--token", token];
    b = await TestNode.start([...join_, "--label", "zone=eu", ...common], { portSpan: 3 });
    c = await TestNode.start([...join_, "--label", "zone=us", ...common], { portSpan: 3 });
  });
  afterAll(async () => {
    for (const node of [a, b, c]) await node?.destroy();
  });

  const create = (name: string, ...flags: string[]) =>
    a.ok("vm", "create", name, "--kernel", image().kernel, ...flags);
  const get = (name: string) => JSON.parse(a.ok("vm", "get", name, "-o", "json")) as VmJson;
  const placed = (name: string) =>
    until(`${name} to be placed`, () => {
      const node = get(name).status.node;
      return node === "" ? undefined : node;
    });

  it("binpack fills one node, spread goes to the emptiest", async () => {
    create("pack-1", "--memory", "128", "--strategy", "binpack");
    const first = await placed("pack-1");
    create("pack-2", "--memory", "128", "--strategy", "binpack");
    expect(await placed("pack-2")).toBe(first);

    create("spread-1", "--memory", "128", "--strategy", "spread");
    const second = await placed("spread-1");
    expect(second).not.toBe(first);
    create("spread-2", "--memory", "128", "--strategy", "spread");
    expect([first, second]).not.toContain(await placed("spread-2"));
  });

  it("honours label constraints and manual placement", async () => {
    create("in-us", "--memory", "64", "--constraint", "zone=us");
    expect(await placed("in-us")).toBe(idOf(c));
    create("not-us", "--memory", "64", "--constraint", "zone!=us");
    expect([idOf(a), idOf(b)]).toContain(await placed("not-us"));
    create("pinned", "--memory", "64", "--node", idOf(b));
    expect(await placed("pinned")).toBe(idOf(b));
  });

  it("keeps a VM that fits nowhere Pending, saying for each node why", async () => {
    create("huge", "--memory", "1024");
    const status = await until("the scheduler's verdict", () => {
      const s = get("huge").status;
      return s.message.startsWith("no node can run") ? s : undefined;
    });
    expect(status).toMatchObject({ phase: "Pending", node: "" });
    for (const node of [a, b, c]) {
      expect(status.message).toMatch(
        new RegExp(`${idOf(node)}[^;]*: not enough memory \\(needs 1024 MiB, \\d+ free\\)`),
      );
    }
  });

  it("spreads a replica group over distinct nodes, and scales it", async () => {
    const out = a.ok("vm", "create", "web", "--kernel", image().kernel, "--memory", "32", "--replicas", "3");
    expect(out).toMatch(/vm\/web-1 created\nvm\/web-2 created\nvm\/web-3 created/);
    const homes = await Promise.all(["web-1", "web-2", "web-3"].map(placed));
    expect(new Set(homes).size).toBe(3);
    expect(a.ok("vm", "list")).toMatch(/^web-2\s.*\sweb$/m);
    // A fourth replica has no node without one already.
    a.ok("vm", "scale", "web", "4");
    const fourth = await until("web-4's verdict", () => {
      const s = get("web-4").status;
      return s.message.startsWith("no node can run") ? s : undefined;
    });
    expect(fourth.message).toMatch(/already runs a replica of web/);
    expect(a.ok("vm", "scale", "web", "2")).toMatch(/vm\/web-3 deleting\nvm\/web-4 deleting/);
    await until(
      "web-3 and web-4 to be gone",
      () => (a.cli("vm", "get", "web-4").code !== 0 && a.cli("vm", "get", "web-3").code !== 0) || undefined,
    );
  });

  it("never gives a node more memory than it has", async () => {
    // Fill the cluster with 128 MiB VMs until one stays Pending; no node may pass 512 MiB.
    for (let i = 0; ; i++) {
      create(`fill-${i}`, "--memory", "128");
      const verdict = await until(`fill-${i} to be placed or refused`, () => {
        const s = get(`fill-${i}`).status;
        return s.node !== "" || s.message.startsWith("no node can run") ? s : undefined;
      });
      if (verdict.node === "") break;
      expect(i).toBeLessThan(12);
    }
    const nodes = JSON.parse(a.ok("node", "list", "-o", "json")) as {
      id: string;
      allocated: { memoryMiB: number };
      allocatable: { memoryMiB: number };
    }[];
    for (const node of nodes) {
      expect(node.allocatable.memoryMiB).toBe(ALLOCATABLE_MIB);
      expect(node.allocated.memoryMiB).toBeLessThanOrEqual(ALLOCATABLE_MIB);
      expect(node.allocated.memoryMiB).toBeGreaterThan(ALLOCATABLE_MIB - 128);
    }
  });
});
