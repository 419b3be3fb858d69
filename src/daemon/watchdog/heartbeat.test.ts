import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pidExists } from "../../drivers/shared/process-probe.js";
import { heartbeatAgeMs, writeHeartbeat } from "./heartbeat.js";

const WATCHDOG = join(import.meta.dirname, "watchdog-main.ts");
const VITE_NODE = join(import.meta.dirname, "../../../node_modules/.bin/vite-node");
const HOUR_MS = 3_600_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Moves the file's mtime as a wall-clock step of `stepMs` would make it look (forward: older). */
function stepWallClock(path: string, stepMs: number): void {
  const t = new Date(Date.now() - stepMs);
  utimesSync(path, t, t);
}

describe("lease heartbeat", () => {
  let dir: string;
  let heartbeat: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "blixard-heartbeat-"));
    heartbeat = join(dir, "lease-heartbeat");
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("measures a beat's age on the monotonic clock, whatever the wall clock did", () => {
    writeHeartbeat(heartbeat);
    stepWallClock(heartbeat, HOUR_MS);
    expect(heartbeatAgeMs(heartbeat)).toBeLessThan(1000);
    stepWallClock(heartbeat, -HOUR_MS);
    expect(heartbeatAgeMs(heartbeat)).toBeLessThan(1000);
  });

  it("counts a missing heartbeat and one from an earlier boot as stale", () => {
    expect(heartbeatAgeMs(heartbeat)).toBe(Number.POSITIVE_INFINITY);
    writeFileSync(heartbeat, "00000000-0000-0000-0000-000000000000 5\n");
    expect(heartbeatAgeMs(heartbeat)).toBe(Number.POSITIVE_INFINITY);
  });

  // The accident it stops: an NTP step of the host clock made every heartbeat look an hour old, and the
  // watchdog SIGKILLed every VM of a healthy node.
  it("keeps the watchdog from fencing after a wall-clock step, and still fences when beats stop", async () => {
    const vmsDir = join(dir, "vms");
    const stateDir = join(vmsDir, "web");
    mkdirSync(stateDir, { recursive: true });
    // A stand-in for qemu: the watchdog recognises a VM process by its cwd being the state dir.
    const vm = spawn("sleep", ["300"], { cwd: stateDir, stdio: "ignore" });
    children.push(vm);
    writeFileSync(join(stateDir, "qemu.pid"), `${vm.pid}\n`);

    const ttlMs = 1500;
    writeHeartbeat(heartbeat);
    const watchdog = spawn(VITE_NODE, [WATCHDOG, heartbeat, vmsDir, String(ttlMs)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(watchdog);
    await new Promise<void>((resolve) => {
      let err = "";
      watchdog.stderr!.on("data", (c: Buffer) => {
        err += c.toString();
        if (err.includes("watching the node's lease heartbeat")) resolve();
      });
    });

    // The daemon keeps renewing while the wall clock jumps an hour ahead (old mtimes) for twice the TTL.
    const until = performance.now() + 2 * ttlMs;
    while (performance.now() < until) {
      writeHeartbeat(heartbeat);
      stepWallClock(heartbeat, HOUR_MS);
      await sleep(200);
    }
    expect(pidExists(vm.pid!)).toBe(true);

    // The beats stop: the watchdog must still fence (the test above could not pass with a dead watchdog).
    const exited = new Promise((r) => vm.once("exit", (_code, signal) => r(signal)));
    expect(await exited).toBe("SIGKILL");
  });
});
