import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireNodeLock } from "./node-lock.js";

describe("node lock", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "blixard-lock-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a second node on the same data dir while the first lives", () => {
    const path = join(dir, "node.pid");
    writeFileSync(path, `${process.ppid}\n`);
    expect(() => acquireNodeLock(path)).toThrow(/another blixard node \(pid \d+\)/);
  });

  it("takes over a stale lock left by a killed node", () => {
    const path = join(dir, "node.pid");
    const dead = spawnSync("true").pid;
    writeFileSync(path, `${dead}\n`);
    const release = acquireNodeLock(path);
    release();
    expect(existsSync(path)).toBe(false);
  });
});
