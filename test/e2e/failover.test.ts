import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, idOf, image, startCluster, type TestNode, until } from "./harness.js";

const TTL = 2;
const GRACE = 2;

describe("failover when a host is lost", () => {
  const nodes: TestNode[] = [];
  const common = ["--lease-ttl", String(TTL), "--failover-grace", String(GRACE)];

  beforeAll(async () => {
    nodes.push(...(await startCluster(3, common)));
  });
  afterAll(async () => {
    for (const node of nodes) await node.destroy();
  });

  it("restarts a lost host's VM on another node, where its forwarded port answers again", async () => {
    const port = await freePort();
    const { kernel, initrd } = image();
    const [first] = nodes;
    first!.ok(
      "vm",
      "create",
      "svc",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--memory",
      "128",
      "--forward",
      `${port}:80`,
      "-f",
      "test/fixtures/health-http.yaml",
      "--start",
    );
    const before = first!.vm("svc");
    expect(before.status).toMatchObject({ phase: "Running", health: "healthy" });
    const home = nodes.find((n) => idOf(n) === before.status.node)!;
    const homeId = idOf(home);
    const survivor = nodes.find((n) => n !== home)!;
    const ids = nodes.map(idOf);

    const lostAt = Date.now();
    await home.destroy(); // SIGKILL of the daemon, its qemu processes and its etcd member, by pid
    const after = await until(
      "svc to run healthy on another node",
      () => {
        const res = survivor.cli("vm", "get", "svc", "-o", "json");
        if (res.code !== 0) return undefined;
        const vm = JSON.parse(res.stdout) as { status: { node: string; phase: string; health: string } };
        return vm.status.node !== homeId && vm.status.phase === "Running" && vm.status.health === "healthy"
          ? vm
          : undefined;
      },
      // A correctness bound with slack for a loaded machine (TTL + grace + a TCG boot); the time itself
      // is measured in the benchmark.
      (TTL + GRACE) * 1000 + 60_000,
    );
    console.log(`failover: ${Date.now() - lostAt} ms from host loss to healthy on ${after.status.node}`);
    expect(ids.filter((id) => id !== homeId)).toContain(after.status.node);
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(page).toContain("svc");
  });
});
