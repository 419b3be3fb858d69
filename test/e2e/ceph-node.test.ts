/**
 * `blixard node --ceph-conf/--ceph-user/--ceph-keyring/--ceph-pool`: the node checks Ceph when it
 * starts and `node get` says whether RBD volumes can run there, and why not. A wrong key (the attack:
 * a node, or anyone, without the cluster's credentials) is refused by Ceph and reported as
 * unreachable; the key itself never appears on the node's command line.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cephSkipReason, startTestCeph, type TestCeph } from "../../src/testing/ceph.js";
import { idOf, TestNode } from "./harness.js";

const skip = cephSkipReason();
const suite = `a node with Ceph access${skip ? ` (skipped: ${skip})` : ""}`;

describe.skipIf(skip !== undefined)(suite, () => {
  let ceph: TestCeph;
  const nodes: TestNode[] = [];

  beforeAll(async () => {
    ceph = await startTestCeph();
  }, 120_000);

  afterAll(async () => {
    for (const node of nodes) await node.destroy();
    await ceph?.stop();
  });

  it("shows Ceph reachable with the pool in node get, and the key on no command line", async () => {
    const node = await TestNode.start([
      "--ceph-conf",
      ceph.confPath,
      "--ceph-user",
      ceph.user,
      "--ceph-keyring",
      ceph.keyringPath,
      "--ceph-pool",
      ceph.pool,
    ]);
    nodes.push(node);
    const res = node.cli("node", "get", idOf(node), "-o", "json");
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout).ceph).toEqual({ reachable: true, pool: "blixard" });
    const table = node.cli("node", "get", idOf(node));
    expect(table.stdout).toContain("ceph: reachable (pool blixard)");

    const key = /key = (\S+)/.exec(readFileSync(ceph.keyringPath, "utf8"))?.[1];
    expect(key).toBeDefined();
    expect(readFileSync(`/proc/${node.pid}/cmdline`, "utf8")).not.toContain(key as string);
  });

  it("shows Ceph unreachable with the reason when the key is wrong or the pool is missing", async () => {
    const node = await TestNode.start([
      "--ceph-conf",
      ceph.confPath,
      "--ceph-pool",
      "nosuchpool",
      "--ceph-keyring",
      ceph.keyringPath,
    ]);
    nodes.push(node);
    const got = JSON.parse(node.cli("node", "get", idOf(node), "-o", "json").stdout);
    expect(got.ceph.reachable).toBe(false);
    expect(got.ceph.reason).toMatch(/no pool nosuchpool/);

    const badKeyring = join(ceph.dir, "wrong.keyring");
    execFileSync("ceph-authtool", ["--create-keyring", badKeyring, "--gen-key", "-n", "client.admin"]);
    const wrongKey = await TestNode.start([
      "--ceph-conf",
      ceph.confPath,
      "--ceph-pool",
      ceph.pool,
      "--ceph-keyring",
      badKeyring,
    ]);
    nodes.push(wrongKey);
    const refused = JSON.parse(wrongKey.cli("node", "get", idOf(wrongKey), "-o", "json").stdout);
    expect(refused.ceph.reachable).toBe(false);
    expect(refused.ceph.reason).not.toBe("");
  });
});
