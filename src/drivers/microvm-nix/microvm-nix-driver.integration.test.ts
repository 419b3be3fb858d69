/**
 * Integration test: the microvm-nix driver supervising a runner directory in microvm.nix's layout
 * whose microvm-run boots the real qemu test guest under TCG (see testing/microvm-runner.ts). No Nix
 * is needed: the runner is given as prebuilt. Runs in the e2e project, whose global setup builds the
 * guest image and checks for qemu.
 */
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseVmSpec } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import type { StopOptions, VmDriver } from "../../ports/vm-driver.js";
import { type RunnerFixture, writeRunnerFixture } from "../../testing/microvm-runner.js";
import { imageDir } from "../../testing/test-image.js";
import { hostTscKhz } from "../qemu/host-tsc.js";
import { isVmProcess, procCwd } from "../shared/process-probe.js";
import { MicrovmNixDriver } from "./microvm-nix-driver.js";

const IMAGE_DIR = imageDir();
const BOOT_MS = 120_000;
const STOP: StopOptions = { gracefulTimeoutMs: 30_000, quitTimeoutMs: 10_000, killTimeoutMs: 5_000 };

let root: string;
let vmsDir: string;
const started: { name: string; pid: number }[] = [];

function driver(): MicrovmNixDriver {
  return new MicrovmNixDriver({ vmsDir, logger: silentLogger, clock: systemClock, settleMs: 500 });
}

function runner(name: string, extra: Partial<RunnerFixture> = {}): string {
  return writeRunnerFixture({
    dir: join(root, "runners", name),
    name,
    kernel: join(IMAGE_DIR, "vmlinuz"),
    initrd: join(IMAGE_DIR, "initrd.img"),
    tscKhz: hostTscKhz(),
    ...extra,
  });
}

function spec(name: string, runnerDir: string) {
  return parseVmSpec({
    name,
    driver: "microvm-nix",
    memory: 256,
    microvm: { runner: runnerDir },
  });
}

async function waitForConsole(d: VmDriver, name: string, offset: number, pattern: RegExp): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), BOOT_MS);
  let text = "";
  try {
    for await (const chunk of d.followLogs(name, offset, controller.signal)) {
      text += chunk;
      if (pattern.test(text)) return;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  throw new Error(`console of ${name} never matched ${pattern}; last output:\n${text.slice(-2_000)}`);
}

async function bootReady(d: MicrovmNixDriver, name: string, runnerDir: string): Promise<number> {
  const s = spec(name, runnerDir);
  await d.prepare(name, s);
  const offset = await d.logSize(name);
  const { pid } = await d.start(name, s);
  started.push({ name, pid });
  await waitForConsole(d, name, offset, /BLIXARD-READY/);
  return pid;
}

function events(name: string): string[] {
  return readFileSync(join(vmsDir, name, "events.log"), "utf8")
    .trim()
    .split("\n");
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "blixard-microvm-"));
  vmsDir = join(root, "vms");
});

afterEach(async () => {
  // Whatever a failed test left running dies by its pid, checked against its state dir.
  for (const { name, pid } of started.splice(0)) {
    if (await isVmProcess(pid, join(vmsDir, name))) process.kill(pid, "SIGKILL");
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("MicrovmNixDriver with a prebuilt runner and a real TCG guest", () => {
  it("runs tap-up and virtiofsd-run first, then microvm-run in the state dir; stops with microvm-shutdown and waits for the exit", async () => {
    const d = driver();
    const dir = runner("web", { tap: true, virtiofsTags: ["data"] });
    const pid = await bootReady(d, "web", dir);
    const stateDir = join(vmsDir, "web");
    expect(await procCwd(pid)).toBe(stateDir);
    expect(readlinkSync(join(stateDir, "booted"))).toBe(dir);
    expect(readlinkSync(join(stateDir, "current"))).toBe(dir);
    expect(events("web")).toEqual(["tap-up", "virtiofsd-run", "microvm-run"]);
    const record = JSON.parse(readFileSync(join(stateDir, "vm.json"), "utf8")) as { virtiofsdPid: number };
    expect(await isVmProcess(record.virtiofsdPid, stateDir)).toBe(true);

    // microvm-shutdown returns within 0.2 s; the guest takes longer to power off, and the stop
    // still reports a graceful exit because it waits for the process itself.
    expect(await d.stop("web", STOP)).toBe("graceful");
    expect(await isVmProcess(pid, stateDir)).toBe(false);
    expect((await d.inspect("web")).state).toBe("exited");
    expect(events("web")).toEqual(["tap-up", "virtiofsd-run", "microvm-run", "microvm-shutdown", "tap-down"]);
    expect(await isVmProcess(record.virtiofsdPid, stateDir)).toBe(false);
    expect(() => readlinkSync(join(stateDir, "booted"))).toThrow();
  });

  // Re-adoption by a new driver instance: the driver contract (microvm-nix-contract.integration.test.ts).

  it("escalates to SIGTERM when the guest ignores microvm-shutdown", async () => {
    const d = driver();
    const pid = await bootReady(
      d,
      "stubborn",
      runner("stubborn", { cmdline: "blixard.ignore_ctrlaltdel=1" }),
    );
    const began = Date.now();
    expect(await d.stop("stubborn", { ...STOP, gracefulTimeoutMs: 2_000 })).toBe("quit");
    expect(Date.now() - began).toBeGreaterThanOrEqual(2_000);
    expect(await isVmProcess(pid, join(vmsDir, "stubborn"))).toBe(false);
  });

  it("says what the runner printed when microvm-run exits during startup, and cleans up after it", async () => {
    const d = driver();
    const s = spec("broken", runner("broken", { failWith: 3, tap: true }));
    await d.prepare("broken", s);
    await expect(d.start("broken", s)).rejects.toThrow(
      /microvm-run of VM broken exited during startup \(code 3.*this runner fails on purpose/,
    );
    expect(events("broken")).toEqual(["tap-up", "microvm-run", "tap-down"]);
  });

  it("refuses a directory that is not a runner", async () => {
    const d = driver();
    const s = spec("norunner", join(root, "nothing-here"));
    await expect(d.prepare("norunner", s)).rejects.toThrow(
      /is not a microvm.nix runner: it has no executable bin\/microvm-run/,
    );
  });
});
