/**
 * Host safety with a real node and a real qemu VM: /metrics passes promtool, a node refuses to start
 * on an empty store while it holds VM state, a VM state dir that no record claims is quarantined,
 * never deleted, until `blixard node quarantine delete`, and a flooded console log stays bounded
 * while `vm logs -f` on a terminal follows it across rotations with escape sequences stripped.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, getFrom, image, isAlive, TestNode, until } from "./harness.js";

describe("host safety", () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await TestNode.start();
  });
  afterAll(async () => node?.destroy());

  it("serves /metrics that `promtool check metrics` accepts", async () => {
    // With the node's own credential, as every request will need one (loopback included).
    const token = readFileSync(join(node.dataDir, "token"), "utf8").trim();
    const res = await getFrom(node, "/metrics", { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const text = res.body;
    expect(text).toContain("blixard_vms");
    // The single node's store: its size on disk and its compaction, checked by promtool with the rest.
    expect(text).toMatch(/^blixard_store_size_bytes\{file="db"\} [1-9]\d*$/m);
    expect(text).toMatch(/^blixard_store_compactions_total \d+$/m);
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

describe("console logs with a real VM", () => {
  const cap = 64 * 1024;
  let node: TestNode;
  let follower: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    node = await TestNode.start(["--console-log-max-bytes", String(cap)]);
  });
  afterAll(async () => {
    if (follower?.pid && follower.exitCode === null && follower.signalCode === null) {
      const exited = new Promise((r) => follower!.once("exit", r));
      process.kill(-follower.pid, "SIGKILL");
      await exited;
    }
    await node?.destroy();
  });

  // The attacks: a guest flooding its console to fill the host's disk, and printing escape sequences
  // (a window title, a screen clear) into the terminal of whoever reads its log.
  it("keeps a flooded log under twice the cap, and `vm logs -f` on a tty follows it across rotations, stripped", async () => {
    const { kernel, initrd } = image();
    node.ok("vm", "create", "chatty", "--kernel", kernel, "--initrd", initrd, "--memory", "256", "--start");
    const log = join(node.vmDir("chatty"), "console.log");
    // `script` gives the CLI a pseudo-terminal for stdout, as a user's shell would.
    const command = [process.execPath, CLI, "--server", node.url, "vm", "logs", "chatty", "-f", "--tail", "1"]
      .map((a) => `'${a}'`)
      .join(" ");
    follower = spawn("script", ["-qfec", command, "/dev/null"], {
      env: { ...process.env, BLIXARD_DATA_DIR: node.dataDir },
      stdio: ["pipe", "pipe", "inherit"],
      detached: true,
    });
    let seen = "";
    follower.stdout!.on("data", (c: Buffer) => {
      seen += c.toString("utf8");
    });
    await until("the follower to print the console", () => seen.length > 0 || undefined, 60_000);

    // The guest's side, as qemu writes it: O_APPEND to the log it holds open.
    const fd = openSync(log, "a");
    try {
      writeSync(fd, "\x1b]0;pwned-title\x07MARK-ONE\n");
      // Seen before the flood: a rotation keeps only the log's last cap bytes, so a follower that is
      // behind when it comes loses what it dropped (bounded logs, by design), and the node's rotator
      // ticks every second whatever the follower's pace.
      await until(
        "the follower to show the first mark",
        () => seen.includes("MARK-ONE") || undefined,
        30_000,
      );
      for (let i = 0; i < 400; i++) writeSync(fd, `${"flood ".repeat(100)}\x1b[2J\x1b[H\n`);
      await until("the node to rotate the log", () => statSync(log).size < cap || undefined, 30_000);
      writeSync(fd, "MARK-TWO\x1b[31m red\n");
    } finally {
      closeSync(fd);
    }
    await until(
      "the follower to show output after the rotation",
      () => seen.includes("MARK-TWO") || undefined,
      30_000,
    );
    expect(seen).toContain("MARK-ONE");
    expect(seen).toContain("MARK-TWO red");
    expect(seen).not.toContain("\x1b");
    expect(seen).not.toContain("pwned-title");
    const onDisk = statSync(log).size + statSync(`${log}.1`).size;
    expect(onDisk).toBeLessThan(2 * cap);
  });
});
