import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalEtcdCluster } from "../../src/store/etcd/etcd-cluster.js";
import { idOf, image, TestNode, until } from "./harness.js";

const TTL = 2;

interface NodeJson {
  id: string;
  state: string;
  leader: boolean;
}

// Two Blixard nodes sharing a real 3-member etcd cluster on loopback (`--store etcd://...`).
describe("nodes sharing an external etcd cluster", () => {
  let etcd: LocalEtcdCluster;
  let a: TestNode;
  let b: TestNode;
  const nodes = (via: TestNode) => JSON.parse(via.ok("node", "list", "-o", "json")) as NodeJson[];

  beforeAll(async () => {
    etcd = await LocalEtcdCluster.start({ size: 3 });
    const store = `etcd://${etcd.endpoints.map((u) => u.replace(/^http:\/\//, "")).join(",")}/e2e`;
    a = await TestNode.start(["--store", store, "--lease-ttl", String(TTL)]);
    b = await TestNode.start(["--store", store, "--lease-ttl", String(TTL)]);
  });
  afterAll(async () => {
    await a?.destroy();
    await b?.destroy();
    await etcd?.destroy();
  });

  it("shows both nodes Ready, with exactly one leader, from either node", () => {
    for (const via of [a, b]) {
      const list = nodes(via);
      expect(list.map((n) => n.id).sort()).toEqual([idOf(a), idOf(b)].sort());
      expect(list.every((n) => n.state === "Ready")).toBe(true);
      expect(list.filter((n) => n.leader)).toHaveLength(1);
    }
  });

  it("serves a VM created through one node from the other", async () => {
    a.ok("vm", "create", "shared", "--kernel", image().kernel, "--initrd", image().initrd, "--node", idOf(a));
    const seen = await until("the leader to place it on a", () => {
      const vm = JSON.parse(b.ok("vm", "get", "shared", "-o", "json")) as { status: { node: string } };
      return vm.status.node === idOf(a) ? vm : undefined;
    });
    expect(seen.status.node).toBe(idOf(a));
    expect(JSON.parse(b.ok("vm", "list", "-o", "json"))).toHaveLength(1);
  });

  it("fails over leadership when the leader is SIGKILLed, and stays writable", async () => {
    const leader = nodes(a).find((n) => n.leader)!;
    const [dead, survivor] = leader.id === idOf(a) ? [a, b] : [b, a];
    await dead.kill("SIGKILL");
    await until(
      "the survivor to lead",
      () => nodes(survivor).find((n) => n.id === idOf(survivor) && n.leader),
      // A correctness bound with slack for a loaded machine; the failover time itself belongs in a benchmark.
      (TTL + 8) * 1000,
    );
    await until("the dead node to show NotReady", () =>
      nodes(survivor).find((n) => n.id === idOf(dead) && n.state === "NotReady"),
    );
    survivor.ok("vm", "create", "after-failover", "--kernel", image().kernel);
    expect(JSON.parse(survivor.ok("vm", "list", "-o", "json"))).toHaveLength(2);
  });
});
