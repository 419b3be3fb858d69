import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestNode } from "./harness.js";

describe("node membership on a single node", () => {
  let node: TestNode;
  let id: string;

  beforeAll(async () => {
    node = await TestNode.start(["--label", "zone=eu-1", "--label", "tier=gold"]);
    id = (JSON.parse(readFileSync(join(node.dataDir, "node.json"), "utf8")) as { id: string }).id;
  });
  afterAll(async () => node?.destroy());

  it("registers itself Ready, as leader, with its labels and capacity", () => {
    const nodes = JSON.parse(node.ok("node", "list", "-o", "json")) as Record<string, unknown>[];
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({
      id,
      state: "Ready",
      leader: true,
      labels: { zone: "eu-1", tier: "gold" },
    });
    const capacity = nodes[0]!["capacity"] as { vcpus: number; memoryMiB: number; drivers: string[] };
    expect(capacity.vcpus).toBeGreaterThan(0);
    expect(capacity.memoryMiB).toBeGreaterThan(0);
    // microvm-nix is offered where nix is on the PATH (--microvm-nix auto), as CI installs it.
    const nix = spawnSync("sh", ["-c", "command -v nix"]).status === 0;
    expect(capacity.drivers).toEqual(nix ? ["qemu", "microvm-nix"] : ["qemu"]);
    expect(node.ok("node", "get", id)).toMatch(new RegExp(`^${id}\\s+Ready\\s+\\*`, "m"));
  });

  it("keeps its identity across restarts", async () => {
    await node.kill("SIGTERM");
    await node.launch();
    const nodes = JSON.parse(node.ok("node", "list", "-o", "json")) as { id: string; state: string }[];
    expect(nodes.map((n) => [n.id, n.state])).toEqual([[id, "Ready"]]);
  });
});
