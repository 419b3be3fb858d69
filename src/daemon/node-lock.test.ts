import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireNodeLock } from "./node-lock.js";

const HOLDER = join(import.meta.dirname, "../../test/fixtures/scripts/hold-node-lock.ts");
const VITE_NODE = join(import.meta.dirname, "../../node_modules/.bin/vite-node");

/** A separate process that tries the lock once and reports its first line of output. */
function contender(lockPath: string, pidPath: string): { child: ChildProcess; said: Promise<string> } {
  const child = spawn(VITE_NODE, [HOLDER, lockPath, pidPath], { stdio: ["ignore", "pipe", "inherit"] });
  const said = new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]!);
    });
    child.once("exit", (code) => reject(new Error(`contender exited (${code}) before it reported`)));
  });
  return { child, said };
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

describe("node lock", () => {
  let dir: string;
  let lockPath: string;
  let pidPath: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "blixard-lock-"));
    lockPath = join(dir, "node.lock");
    pidPath = join(dir, "node.pid");
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await killAndWait(child);
    rmSync(dir, { recursive: true, force: true });
  });

  // The accident it stops: two daemons started at once on one data dir (a unit restart racing a manual
  // start) both passed the old check-then-act pidfile test and converged the same VMs.
  it("lets exactly one of several processes racing for it win", async () => {
    const racers = [0, 1, 2].map(() => contender(lockPath, pidPath));
    children.push(...racers.map((r) => r.child));
    const said = await Promise.all(racers.map((r) => r.said));
    expect(said.filter((s) => s === "held")).toHaveLength(1);
    const winner = racers[said.indexOf("held")]!.child.pid;
    for (const s of said.filter((s) => s !== "held"))
      expect(s).toMatch(/^refused: another blixard node( \(pid \d+\))? is using this data dir/);
    // A loser that read the pid file after the winner wrote it names the winner.
    for (const s of said) if (/pid \d+/.test(s)) expect(s).toContain(`pid ${winner}`);
  });

  it("is released by the kernel when its holder is SIGKILLed, with no stale lock to clean up", async () => {
    const first = contender(lockPath, pidPath);
    children.push(first.child);
    expect(await first.said).toBe("held");
    expect(() => acquireNodeLock(lockPath, pidPath)).toThrow(/another blixard node \(pid \d+\)/);
    await killAndWait(first.child);
    const release = acquireNodeLock(lockPath, pidPath);
    release();
  });

  it("refuses a second holder inside the same process until the first releases", () => {
    const release = acquireNodeLock(lockPath, pidPath);
    expect(() => acquireNodeLock(lockPath, pidPath)).toThrow(/another blixard node/);
    release();
    acquireNodeLock(lockPath, pidPath)();
  });
});
