/**
 * A frozen node on a real 3-node cluster: SIGSTOP of the daemon running a VM stands for a node cut off
 * from the cluster (it can neither renew its lease nor fence itself). Its watchdog, a separate process,
 * kills the VM once the lease heartbeat is older than the TTL; the leader moves the VM only after the
 * lease expired plus the grace period. qemu processes are sampled on every node throughout: at no
 * moment do two copies run. After SIGCONT the node finds the VM assigned elsewhere and leaves it be.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { idOf, image, startCluster, type TestNode, until } from "./harness.js";

const TTL = 2;
const GRACE = 2;

describe("a frozen node", () => {
  const nodes: TestNode[] = [];
  const common = ["--lease-ttl", String(TTL), "--failover-grace", String(GRACE)];

  beforeAll(async () => {
    nodes.push(...(await startCluster(3, common)));
  });
  afterAll(async () => {
    for (const node of nodes) {
      node.signal("SIGCONT");
      await node.destroy();
    }
  });

  it("has its VM killed by its watchdog before the VM is started elsewhere, never two at once", async () => {
    const { kernel, initrd } = image();
    // Created through a node that will stay up, started, then found on whichever node got it.
    const via = nodes[0]!;
    via.ok("vm", "create", "solo", "--kernel", kernel, "--initrd", initrd, "--memory", "128", "--start");
    const home = nodes.find((n) => idOf(n) === via.vm("solo").status.node)!;
    const observer = nodes.find((n) => n !== home)!;
    expect(home.qemuPids()).toHaveLength(1);
    const copies = () => nodes.reduce((sum, n) => sum + n.qemuPids().length, 0);

    home.signal("SIGSTOP");
    let most = 0;
    const moved = await until(
      "solo to run on another node",
      () => {
        most = Math.max(most, copies());
        const res = observer.cli("vm", "get", "solo", "-o", "json");
        if (res.code !== 0) return undefined;
        const vm = JSON.parse(res.stdout) as { status: { node: string; phase: string } };
        return vm.status.node !== idOf(home) && vm.status.phase === "Running" ? vm.status.node : undefined;
      },
      (TTL + GRACE) * 1000 + 60_000,
    );
    expect(most).toBe(1);
    expect(home.qemuPids()).toHaveLength(0);
    expect(readFileSync(join(home.dataDir, "watchdog.log"), "utf8")).toMatch(
      /lease heartbeat is stale: killed this node's VMs/,
    );

    home.signal("SIGCONT");
    // Thawed, the node sees the VM assigned elsewhere and starts nothing; one copy stays.
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 250));
      expect(copies()).toBe(1);
    }
    expect(observer.vm("solo").status.node).toBe(moved);
  });
});
