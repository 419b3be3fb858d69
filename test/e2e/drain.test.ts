/**
 * Cordon and drain on a real 3-node cluster: a cordoned node gets no new VMs; draining a node stops
 * each of its VMs there and starts it on another node, and at no moment does a VM run on two nodes.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, idOf, image, startCluster, type TestNode, until } from "./harness.js";

describe("cordon and drain", () => {
  const nodes: TestNode[] = [];

  beforeAll(async () => {
    nodes.push(...(await startCluster(3, ["--lease-ttl", "2"])));
  });
  afterAll(async () => {
    for (const node of nodes) await node.destroy();
  });

  const via = () => nodes[0]!;
  const nodeOf = (name: string) =>
    (JSON.parse(via().ok("vm", "get", name, "-o", "json")) as { status: { node: string } }).status.node;

  it("places nothing on a cordoned node", async () => {
    const cordoned = nodes[1]!;
    expect(via().ok("node", "cordon", idOf(cordoned))).toMatch(/cordoned/);
    expect(via().ok("node", "list")).toMatch(new RegExp(`${idOf(cordoned)}\\s+Ready,Cordoned`));
    for (let i = 0; i < 4; i++)
      via().ok("vm", "create", `c-${i}`, "--kernel", image().kernel, "--memory", "64");
    for (let i = 0; i < 4; i++) {
      const node = await until(`c-${i} placed`, () => nodeOf(`c-${i}`) || undefined);
      expect(node).not.toBe(idOf(cordoned));
    }
    via().ok("node", "uncordon", idOf(cordoned));
    for (let i = 0; i < 4; i++) via().ok("vm", "delete", `c-${i}`);
  });

  it("moves a node's VMs elsewhere, never running one on two nodes at once", async () => {
    const { kernel, initrd } = image();
    via().ok("vm", "create", "mover", "--kernel", kernel, "--initrd", initrd, "--memory", "128", "--start");
    const home = nodes.find((n) => idOf(n) === nodeOf("mover"))!;
    expect(home.qemuPids()).toHaveLength(1);

    // Run the drain in the background and sample every node's qemu processes while it goes.
    const drain = spawn(process.execPath, [CLI, "--server", via().url, "node", "drain", idOf(home)], {
      env: { ...process.env, BLIXARD_DATA_DIR: via().dataDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    drain.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => drain.once("exit", (code) => resolve(code)));
    let done = false;
    void exited.then(() => {
      done = true;
    });
    let most = 0;
    while (!done) {
      most = Math.max(
        most,
        nodes.reduce((sum, n) => sum + n.qemuPids().length, 0),
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/moving 1 VM\(s\): mover/);
    expect(out).toMatch(/\[1\/1\] vm\/mover moved to node-/);
    expect(most).toBe(1);

    const now = nodes.find((n) => idOf(n) === nodeOf("mover"))!;
    expect(now).not.toBe(home);
    expect(now.qemuPids()).toHaveLength(1);
    expect(home.qemuPids()).toHaveLength(0);
    const drained = JSON.parse(via().ok("node", "get", idOf(home), "-o", "json")) as {
      vms: number;
      draining: boolean;
    };
    expect(drained).toMatchObject({ vms: 0, draining: true });
  });
});
