/**
 * The node's writes and reads in a VM's state dir, tried as a guest that owns that dir would: every
 * name replaced by a symlink to a host file, or by a FIFO.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rotateConsoleLog } from "./console-rotation.js";
import { appendNoFollow, createFresh, openAppendSync, openReadNoFollow } from "./no-follow.js";
import { writeRecordFile } from "./record-file.js";

describe("files in a state dir the VM's uid owns", () => {
  let dir: string;
  let host: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "no-follow-"));
    // Stands for /etc/shadow: a host file the node must never write, truncate or show.
    host = join(dir, "host-secret");
    writeFileSync(host, "root:secret\n".repeat(100), { mode: 0o600 });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("appends to a regular file, creating it 0600", async () => {
    const log = join(dir, "console.log");
    await appendNoFollow(log, "one\n");
    await appendNoFollow(log, "two\n");
    expect(readFileSync(log, "utf8")).toBe("one\ntwo\n");
    expect(statSync(log).mode & 0o777).toBe(0o600);
  });

  it("refuses to append, or hand a child a descriptor, through a symlink to a host file", async () => {
    const log = join(dir, "console.log");
    symlinkSync(host, log);
    await expect(appendNoFollow(log, "guest output\n")).rejects.toThrow(/not a regular file/);
    expect(() => openAppendSync(log)).toThrow(/not a regular file/);
    expect(readFileSync(host, "utf8")).toBe("root:secret\n".repeat(100));
  });

  it("refuses a FIFO at once rather than hanging the node", async () => {
    const log = join(dir, "console.log");
    execFileSync("mkfifo", [log]);
    expect(() => openAppendSync(log)).toThrow(/not a regular file/);
    await expect(openReadNoFollow(log)).rejects.toThrow(/not a regular file/);
  });

  it("refuses to read a host file through a symlink (vm logs would show it)", async () => {
    const log = join(dir, "console.log");
    symlinkSync(host, log);
    await expect(openReadNoFollow(log)).rejects.toThrow(/not a regular file/);
    expect(await openReadNoFollow(join(dir, "absent"))).toBeUndefined();
  });

  it("writes the launch record afresh, not through a planted vm.json.partial link", async () => {
    symlinkSync(host, join(dir, "vm.json.partial"));
    await writeRecordFile(join(dir, "vm.json"), { pid: 1, startedAt: 2 });
    expect(JSON.parse(readFileSync(join(dir, "vm.json"), "utf8"))).toEqual({ pid: 1, startedAt: 2 });
    expect(readFileSync(host, "utf8")).toBe("root:secret\n".repeat(100));
  });

  it("creates a fresh file whatever link was there", async () => {
    const file = join(dir, "x.tmp");
    symlinkSync(host, file);
    const handle = await createFresh(file);
    await handle.close();
    expect(statSync(file).size).toBe(0);
    expect(statSync(host).size).toBe(1200);
  });

  it("rotation neither truncates nor copies a host file the log was swapped for", async () => {
    const log = join(dir, "console.log");
    symlinkSync(host, log);
    await expect(rotateConsoleLog(log, 100)).rejects.toThrow(/not a regular file/);
    expect(statSync(host).size).toBe(1200);
  });
});
