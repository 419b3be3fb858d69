/**
 * Defence in depth against a real node: whoever can write the store directly (here the node's SQLite
 * file, written while the node is down; with etcd, an `etcdctl put`) plants VM records no valid API
 * call could have written: a kernel that climbs out to /etc/shadow, and an unknown field. The node
 * starts no qemu for them, the leader places neither and says why (`refused` event, `vm get`), the
 * node keeps serving, and `vm delete` clears them. (Hostile assignments, the keys an agent acts on,
 * are refused by the agent: src/agent/agent-refuses-records.test.ts.)
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keys } from "../../src/core/keys.js";
import { parseVmSpec } from "../../src/core/vm-spec.js";
import { systemClock } from "../../src/platform/system-clock.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { idOf, image, TestNode, until } from "./harness.js";

describe("hostile records written straight into a node's store", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.start();
    await node.kill("SIGTERM");
    const nodeId = idOf(node);
    // One as today's API writes records, one with the placement an older node wrote inline.
    const record = (name: string, spec: Record<string, unknown>) => ({
      name,
      spec,
      desiredState: "running",
      ...(name === "extra" ? { node: nodeId } : {}),
      restartNonce: 0,
      deleting: false,
      createdAt: new Date().toISOString(),
    });
    const valid = (name: string) => parseVmSpec({ name, ...image() });
    const store = await SqliteStore.open({ path: join(node.dataDir, "store.db"), clock: systemClock });
    try {
      for (const [name, value] of [
        ["shadow", record("shadow", { ...valid("shadow"), kernel: "/boot/../etc/shadow" })],
        ["extra", record("extra", { ...valid("extra"), exec: "/bin/sh -c 'id > /tmp/pwned'" })],
      ] as const) {
        await store.txn({
          compare: [],
          success: [{ type: "put", key: keys.vm(name), value: JSON.stringify(value) }],
        });
      }
    } finally {
      await store.close();
    }
    await node.launch();
  }, 120_000);
  afterAll(async () => node?.destroy());

  it.each([
    ["shadow", /spec\.kernel: must not contain '\.' or '\.\.' segments/],
    ["extra", /spec: Unrecognized key: "exec"/],
  ])("starts nothing for %s and says why", async (name, why) => {
    const events = await until(
      `a refused event for ${name}`,
      () => {
        const list = JSON.parse(node.ok("events", "--vm", name, "-o", "json")) as {
          type: string;
          reason: string;
        }[];
        return list.some((e) => e.type === "refused") ? list : undefined;
      },
      30_000,
    );
    expect(events.find((e) => e.type === "refused")!.reason).toMatch(why);
    expect(node.qemuPids()).toEqual([]);
    expect(readdirSync(join(node.dataDir, "vms"))).toEqual([]);
    const get = node.cli("vm", "get", name);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toMatch(why);
    expect(get.stderr).toMatch(new RegExp(`blixard vm delete ${name}`));
  });

  it("keeps serving, lists only valid VMs, and deletes the hostile records on request", () => {
    node.ok("vm", "create", "fine", "--kernel", image().kernel);
    expect(
      (JSON.parse(node.ok("vm", "list", "-o", "json")) as { name: string }[]).map((v) => v.name),
    ).toEqual(["fine"]);
    node.ok("vm", "delete", "shadow", "--no-wait");
    node.ok("vm", "delete", "extra", "--no-wait");
    expect(node.cli("vm", "get", "shadow").stderr).toMatch(/not found/);
    expect(node.qemuPids()).toEqual([]);
  });
});
