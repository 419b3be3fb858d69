/**
 * The poison pill: a console health check pattern that backtracks exponentially (`(.|.)*QQQ`) over
 * hostile guest output. On a backtracking engine the agent's first match attempt never returns, the
 * node's event loop stalls, its lease lapses (NotReady), and its watchdog kills its VMs. On RE2 the node
 * keeps renewing its lease, keeps its VM, and keeps answering while the pattern runs over the console.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFrom, image, isAlive, startCluster, type TestNode, until } from "./harness.js";

interface NodeJson {
  id: string;
  state: string;
}

describe("a hostile console pattern on a clustered node", () => {
  let node: TestNode;

  beforeAll(async () => {
    // A managed-etcd node: its lease has a TTL and a watchdog that kills its VMs when renewals stop.
    node = (await startCluster(1, ["--lease-ttl", "3"]))[0]!;
  }, 120_000);
  afterAll(async () => node?.destroy());

  it("keeps renewing the node's lease and keeps the VM while the pattern runs over the console", async () => {
    const { kernel, initrd } = image();
    node.ok(
      "vm",
      "create",
      "poison",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "-f",
      "test/fixtures/health-console-redos.toml",
      "--start",
      "--no-wait",
    );
    const running = await until("the VM to run", () => {
      const vm = node.vm("poison");
      return vm.status.phase === "Running" && vm.status.pid !== null ? vm : undefined;
    });
    const pid = running.status.pid!;
    // Hostile guest output, as a guest writing to its serial console would: long lines without QQQ.
    const console = join(node.vmDir("poison"), "console.log");
    for (let i = 0; i < 20; i++) appendFileSync(console, `${"a".repeat(4000)}\n`);

    // Four lease TTLs: a stalled node would be NotReady after one, and its VM killed by the watchdog.
    const deadline = Date.now() + 12_000;
    let samples = 0;
    while (Date.now() < deadline) {
      // A stalled node answers nothing: fail within seconds rather than wait out the CLI's timeout.
      // (A clustered node serves TLS; getFrom gives up after 5 s without an answer.)
      expect((await getFrom(node, "/healthz")).status).toBe(200);
      const nodes = JSON.parse(node.ok("node", "list", "-o", "json")) as NodeJson[];
      expect(nodes.map((n) => n.state)).toEqual(["Ready"]);
      expect(isAlive(pid)).toBe(true);
      samples++;
      appendFileSync(console, `${"a".repeat(4000)}\n`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(samples).toBeGreaterThan(3);
    const vm = node.vm("poison");
    expect(vm.status).toMatchObject({ phase: "Running", pid, restarts: 0 });
    // The pattern never matched (nothing printed QQQ), and it was run: the VM is still starting.
    expect(vm.status.health).toBe("starting");
    // And it does match when the guest prints the line, proving the check is live, not skipped.
    appendFileSync(console, "QQQ\n");
    await until(
      "the check to match",
      () => node.vm("poison").status.health === "healthy" || undefined,
      30_000,
    );
  }, 240_000);
});
