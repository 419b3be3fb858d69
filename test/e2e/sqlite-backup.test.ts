/** `blixard cluster backup` on a single node (SQLite) and `blixard node --restore` into a new data dir. */
import { rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, TestNode } from "./harness.js";

describe("single-node backup and restore", () => {
  let node: TestNode;
  const others: TestNode[] = [];
  const file = join(tmpdir(), `blixard-sqlite-backup-${process.pid}.db`);

  beforeAll(async () => {
    node = await TestNode.start();
  });
  afterAll(async () => {
    for (const n of [node, ...others]) await n?.destroy();
    rmSync(file, { force: true });
  });

  it("writes a SQLite backup with mode 0600 and restores it into a new node", async () => {
    node.ok("vm", "create", "kept", "--kernel", image().kernel, "--initrd", image().initrd);
    const out = node.ok("cluster", "backup", file);
    expect(out).toMatch(/sqlite backup/);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const restored = await TestNode.start(["--restore", file]);
    others.push(restored);
    const vm = JSON.parse(restored.ok("vm", "get", "kept", "-o", "json")) as {
      name: string;
      desiredState: string;
    };
    expect(vm).toMatchObject({ name: "kept", desiredState: "stopped" });
    // The backup is a snapshot: what happens on the old node afterwards is not in it.
    node.ok("vm", "create", "later", "--kernel", image().kernel);
    expect(restored.cli("vm", "get", "later").code).not.toBe(0);
  });

  it("refuses to overwrite an existing file, and to restore over a node's store", async () => {
    const again = node.cli("cluster", "backup", file);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/exists.*--force/);

    // The first start restores; starting again with the same flag would restore over its store.
    const existing = await TestNode.start(["--restore", file]);
    others.push(existing);
    await existing.kill("SIGTERM");
    await expect(existing.launch()).rejects.toThrow(/already has a store .* restore into a new --data-dir/);
  });

  it("rejects a file that is not a backup, naming the flag", async () => {
    const junk = join(tmpdir(), `blixard-not-a-backup-${process.pid}`);
    writeFileSync(junk, "hello");
    try {
      const bad = await TestNode.create(["--restore", junk]);
      others.push(bad);
      await expect(bad.launch()).rejects.toThrow(/--restore: .* is not a SQLite backup/);
    } finally {
      rmSync(junk, { force: true });
    }
  });
});
