/**
 * Integration test: boots real microVMs under TCG with the default guest image. It runs in the e2e
 * project, whose global setup builds the image and checks for qemu; it never skips itself.
 * Set BLIXARD_TEST_TIMINGS=/path.json to record the measured timings.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import { parseVmSpec, type VmSpecInput } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import type { StopOptions, VmDriver } from "../../ports/vm-driver.js";
import { freePort } from "../../store/etcd/free-ports.js";
import { imageDir } from "../../testing/test-image.js";
import { nodeCgroupGroup } from "../jail/cgroups.js";
import { openToVmGroup } from "../jail/data-dir-access.js";
import { probeHostIsolation } from "../jail/host-isolation.js";
import { removeJailLeftovers } from "../jail/leftovers.js";
import { VmJail } from "../jail/vm-jail.js";
import { isVmProcess, pidExists } from "../shared/process-probe.js";
import { QemuDriver } from "./qemu-driver.js";
import { vmPaths } from "./vm-paths.js";

const IMAGE_DIR = imageDir();
const KERNEL = path.join(IMAGE_DIR, "vmlinuz");
const INITRD = path.join(IMAGE_DIR, "initrd.img");
const BOOT_MS = 120_000;
const TEST_MS = 180_000;
const STOP: StopOptions = { gracefulTimeoutMs: 30_000, quitTimeoutMs: 10_000, killTimeoutMs: 5_000 };

let vmsDir: string;
const drivers: QemuDriver[] = [];
const timings: Record<string, number[]> = {};

function record(what: string, ms: number) {
  timings[what] = [...(timings[what] ?? []), ms];
}

function newDriver(jail?: VmJail): QemuDriver {
  const driver = new QemuDriver({
    vmsDir,
    accel: "tcg",
    logger: silentLogger,
    clock: systemClock,
    ...(jail ? { jail } : {}),
  });
  drivers.push(driver);
  return driver;
}

/** The jail a strict node builds on this host (the e2e machines have every piece). */
function hostJail(): VmJail {
  const host = probeHostIsolation({ mode: "strict" });
  if (!host.cgroup || host.missing.length > 0)
    throw new Error(`cannot jail here: ${host.missing.join("; ")}`);
  return new VmJail({
    cgroup: { ...host.cgroup, group: nodeCgroupGroup(vmsDir) },
    mountNamespace: host.mountNamespace,
  });
}

function spec(name: string, extra: Partial<VmSpecInput> = {}) {
  return parseVmSpec({ name, kernel: KERNEL, initrd: INITRD, memory: 256, ...extra });
}

/** Follows the console from `offset` until `pattern` appears; returns the ms it took. */
async function waitForConsole(driver: VmDriver, name: string, offset: number, pattern: RegExp) {
  const began = Date.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), BOOT_MS);
  let text = "";
  try {
    for await (const chunk of driver.followLogs(name, offset, controller.signal)) {
      text += chunk;
      if (pattern.test(text)) return Date.now() - began;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  throw new Error(`console of ${name} never matched ${pattern}; last output:\n${text.slice(-2_000)}`);
}

/** Starts a VM and waits until its init announced readiness; returns the pid. */
async function bootReady(driver: QemuDriver, name: string, extra: Partial<VmSpecInput> = {}) {
  const s = spec(name, extra);
  await driver.prepare(name, s);
  const offset = await driver.logSize(name);
  const began = Date.now();
  const started = await driver.start(name, s);
  record("startToQmpReadyMs", Date.now() - began);
  record("bootToReadyMs", await waitForConsole(driver, name, offset, /BLIXARD-READY name=/));
  return started.pid;
}

async function timedStop(driver: VmDriver, name: string, options: StopOptions) {
  const began = Date.now();
  const method = await driver.stop(name, options);
  record(`stop-${method}-ms`, Date.now() - began);
  return method;
}

describe("QemuDriver with real TCG guests", () => {
  beforeAll(async () => {
    const root = mkdtempSync(path.join(tmpdir(), "blixard-it-"));
    vmsDir = path.join(root, "vms");
    mkdirSync(vmsDir);
    // As a node does at start: VM processes (passt, jailed qemu) may pass through to their state dirs.
    await openToVmGroup(root, vmsDir);
  });

  // Whatever a failed test left running is killed by pid, and only if it is one of this test's VMs.
  afterEach(async () => {
    for (const driver of drivers.splice(0)) {
      for (const name of await driver.list()) {
        const runtime = await driver.inspect(name);
        if (runtime.state === "running" && (await isVmProcess(runtime.pid, vmPaths(vmsDir, name).stateDir))) {
          process.kill(runtime.pid, "SIGKILL");
        }
      }
    }
  });

  afterAll(async () => {
    await removeJailLeftovers(vmsDir);
    rmSync(path.dirname(vmsDir), { recursive: true, force: true });
    if (process.env.BLIXARD_TEST_TIMINGS)
      writeFileSync(process.env.BLIXARD_TEST_TIMINGS, JSON.stringify(timings));
  });

  it(
    "boots a guest to readiness, serves HTTP on a forwarded port, and stops it gracefully",
    async () => {
      const driver = newDriver();
      const port = await freePort();
      const steps: string[] = [];
      const s = spec("it-web", { forwards: [{ host: port, guest: 80 }] });
      await driver.prepare("it-web", s, (p) => steps.push(p.step));
      expect(steps.at(-1)).toBe("prepared");
      expect(await driver.inspect("it-web")).toEqual({ state: "absent" });

      const began = Date.now();
      const started = await driver.start("it-web", s);
      record("startToQmpReadyMs", Date.now() - began);
      expect(await driver.inspect("it-web")).toEqual({ state: "running", ...started });
      expect(await driver.list()).toEqual(["it-web"]);
      record("bootToReadyMs", await waitForConsole(driver, "it-web", 0, /BLIXARD-READY name=it-web/));

      const response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain("<h1>it-web</h1>");
      expect((await driver.logs("it-web")).text).toContain("BLIXARD-READY name=it-web");
      await expect(driver.remove("it-web")).rejects.toSatisfy((e) =>
        isBlixardError(e, "FAILED_PRECONDITION"),
      );

      expect(await timedStop(driver, "it-web", STOP)).toBe("graceful");
      expect(pidExists(started.pid)).toBe(false);
      expect(await driver.inspect("it-web")).toEqual({
        state: "exited",
        exit: { code: 0, signal: null, known: true },
      });
      const paths = vmPaths(vmsDir, "it-web");
      expect(existsSync(paths.pidfile) || existsSync(paths.qmpSocket)).toBe(false);
      expect(existsSync(paths.consoleLog)).toBe(true);
      expect(await driver.stop("it-web", STOP)).toBe("not-running");
    },
    TEST_MS,
  );

  // Re-adoption by a new driver instance and a VM killed behind the driver's back: the driver
  // contract (qemu-contract.integration.test.ts).

  it(
    "stops a guest that ignores Ctrl-Alt-Del with QMP quit once the graceful timeout passes",
    async () => {
      const driver = newDriver();
      const pid = await bootReady(driver, "it-stubborn", { cmdline: "blixard.ignore_ctrlaltdel=1" });
      const began = Date.now();
      const method = await timedStop(driver, "it-stubborn", { ...STOP, gracefulTimeoutMs: 3_000 });
      expect(method).toBe("quit");
      expect(Date.now() - began).toBeGreaterThanOrEqual(3_000);
      expect(pidExists(pid)).toBe(false);
    },
    TEST_MS,
  );

  it(
    "boots from a copy-on-write overlay of the disk, and falls back to SIGKILL when QMP is unreachable",
    async () => {
      const base = path.join(path.dirname(vmsDir), "base.raw");
      execFileSync("qemu-img", ["create", "-q", "-f", "raw", base, "16M"]);
      const driver = newDriver();
      const paths = vmPaths(vmsDir, "it-disk");
      await driver.prepare("it-disk", spec("it-disk", { disk: base }));
      const info = JSON.parse(
        execFileSync("qemu-img", ["info", "--output=json", paths.diskOverlay], { encoding: "utf8" }),
      );
      expect(info).toMatchObject({
        format: "qcow2",
        "backing-filename": base,
        "backing-filename-format": "raw",
      });

      const pid = await bootReady(driver, "it-disk", { disk: base });
      expect((await driver.logs("it-disk")).text).toMatch(/block devices: vda/);
      // With the socket gone, neither Ctrl-Alt-Del nor quit can be delivered.
      rmSync(paths.qmpSocket);
      expect(await timedStop(driver, "it-disk", STOP)).toBe("kill");
      expect(pidExists(pid)).toBe(false);
      expect(await driver.inspect("it-disk")).toMatchObject({ state: "exited", exit: { signal: "SIGKILL" } });

      // A different base image would orphan the guest's writes: prepare refuses it.
      const other = path.join(path.dirname(vmsDir), "other.raw");
      execFileSync("qemu-img", ["create", "-q", "-f", "raw", other, "16M"]);
      await expect(driver.prepare("it-disk", spec("it-disk", { disk: other }))).rejects.toSatisfy((e) =>
        isBlixardError(e, "FAILED_PRECONDITION"),
      );
    },
    TEST_MS,
  );

  it(
    "jailed, boots from its overlay with the base bound in from a directory the VM's uid cannot enter",
    async () => {
      const privateDir = path.join(path.dirname(vmsDir), "private");
      mkdirSync(privateDir, { mode: 0o700 });
      const base = path.join(privateDir, "base.raw");
      execFileSync("qemu-img", ["create", "-q", "-f", "raw", base, "16M"]);
      const driver = newDriver(hostJail());
      const pid = await bootReady(driver, "it-jailed", { disk: base });
      expect((await driver.logs("it-jailed")).text).toMatch(/block devices: vda/);
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      expect(status).toMatch(/^Uid:\t(\d+)\t\1\t\1\t\1$/m);
      expect(status).not.toMatch(/^Uid:\t0\t/m);
      expect(status).toMatch(/^CapEff:\t0000000000000000$/m);
      expect(status).toMatch(/^Seccomp:\t2$/m);
      expect(await timedStop(driver, "it-jailed", STOP)).toBe("graceful");
      await driver.remove("it-jailed");
    },
    TEST_MS,
  );

  it("fails a start whose forward cannot be bound, with passt's own error in the message", async () => {
    const driver = newDriver();
    const port = await freePort();
    const blocker = net.createServer().listen(port, "127.0.0.1");
    try {
      const s = spec("it-fail", { forwards: [{ host: port, guest: 80 }] });
      await driver.prepare("it-fail", s);
      const err = await driver.start("it-fail", s).catch((e: unknown) => e);
      expect(isBlixardError(err, "DRIVER_FAILED")).toBe(true);
      // passt holds the forwards now; it cannot bind the port, and qemu is never started.
      expect((err as Error).message).toMatch(
        /^passt \(user networking\) did not stay up: Failed to bind any port for '-t 127\.0\.0\.1\/\d+:80', exiting$/,
      );
      expect(await driver.inspect("it-fail")).toEqual({ state: "absent" });
    } finally {
      blocker.close();
    }
  });
});
