/**
 * Host safety with a real node and a real qemu VM: /metrics passes promtool, a node refuses to start
 * on an empty store while it holds VM state, and a VM state dir that no record claims is quarantined,
 * never deleted, until `blixard node quarantine delete`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, isAlive, TestNode, until } from "./harness.js";

describe("host safety", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.start();
  });
  afterAll(async () => node?.destroy());

  it("serves /metrics that `promtool check metrics` accepts", async () => {
    // With the node's own credential, as every request will need one (loopback included).
    const token = readFileSync(join(node.dataDir, "token"), "utf8").trim();
    const res = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("blixard_vms");
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(check.error, "promtool must be installed (scripts/install-system-deps.sh)").toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toBe("");
    expect(check.status).toBe(0);
  });

  // The accident: store.db lost or truncated to zero bytes. The node took it for a new store, every
  // VM became an orphan, and every VM's disk was deleted.
  it("refuses an empty store while vms/ holds state, and with the override quarantines the orphan", async () => {
    const { kernel, initrd } = image();
    node.ok("vm", "create", "keep", "--kernel", kernel, "--initrd", initrd, "--memory", "256", "--start");
    const pid = node.vm("keep").status.pid!;
    writeFileSync(join(node.vmDir("keep"), "guest-writes.qcow2"), "the only copy of the guest's writes");
    await node.kill("SIGKILL");
    for (const f of ["store.db", "store.db-wal", "store.db-shm"])
      rmSync(join(node.dataDir, f), { force: true });
    writeFileSync(join(node.dataDir, "store.db"), "");

    await expect(node.launch()).rejects.toThrow(/the store holds no VM.*keep.*--accept-empty-store/s);
    expect(existsSync(node.vmDir("keep"))).toBe(true);
    expect(isAlive(pid)).toBe(true);

    await node.launch(["--accept-empty-store"]);
    const [entry] = await until("the orphan to be quarantined", () => {
      const listed = JSON.parse(node.ok("node", "quarantine", "list", "-o", "json")) as {
        entry: string;
        vm: string;
        path: string;
      }[];
      return listed.length > 0 ? listed : undefined;
    });
    expect(entry).toMatchObject({ vm: "keep" });
    expect(existsSync(node.vmDir("keep"))).toBe(false);
    expect(readFileSync(join(entry!.path, "state", "guest-writes.qcow2"), "utf8")).toBe(
      "the only copy of the guest's writes",
    );
    // It was stopped first (no record runs it here), and the event log says what happened.
    await until("the orphan's qemu to be gone", () => !isAlive(pid) || undefined);
    const events = JSON.parse(node.ok("events", "--vm", "keep", "-o", "json")) as { type: string }[];
    expect(events.map((e) => e.type)).toContain("quarantined");

    node.ok("node", "quarantine", "delete", entry!.entry);
    expect(readdirSync(join(node.dataDir, "quarantine"))).toEqual([]);
  });
});
