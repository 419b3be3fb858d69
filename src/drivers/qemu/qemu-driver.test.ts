/** QemuDriver behaviour that needs no guest: validation, state-dir bookkeeping and failed starts. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ErrorCode, isBlixardError } from "../../core/errors.js";
import { parseVmSpec } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import { openToVmGroup } from "../jail/data-dir-access.js";
import { QemuDriver } from "./qemu-driver.js";

let root: string;
let vmsDir: string;
let kernel: string;

function driver(extra: Partial<ConstructorParameters<typeof QemuDriver>[0]> = {}) {
  return new QemuDriver({ vmsDir, accel: "tcg", logger: silentLogger, clock: systemClock, ...extra });
}

async function failure(promise: Promise<unknown>, code: ErrorCode): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isBlixardError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  return (err as Error).message;
}

beforeEach(async () => {
  root = mkdtempSync(path.join(tmpdir(), "blixard-driver-"));
  vmsDir = path.join(root, "vms");
  // As a node sets up its data dir: VM processes (passt here) may pass through to their state dirs.
  mkdirSync(vmsDir);
  if (process.getuid?.() === 0) await openToVmGroup(root, vmsDir);
  kernel = path.join(root, "vmlinuz");
  writeFileSync(kernel, "not really a kernel");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("QemuDriver without a guest", () => {
  it("reports nothing for a node that has never run a VM", async () => {
    const d = driver();
    expect(await d.list()).toEqual([]);
    expect(await d.inspect("web")).toEqual({ state: "absent" });
    expect(await d.adopt("web")).toEqual({ state: "absent" });
    expect(await d.logSize("web")).toBe(0);
    await failure(d.logs("web"), "NOT_FOUND");
    expect(await d.stop("web", { gracefulTimeoutMs: 1, quitTimeoutMs: 1, killTimeoutMs: 1 })).toBe(
      "not-running",
    );
  });

  it("refuses names that are not DNS labels before touching the filesystem", async () => {
    await failure(driver().inspect("../etc"), "INVALID_ARGUMENT");
    await failure(driver().remove("a/b"), "INVALID_ARGUMENT");
  });

  it("prepares a private state dir, reporting progress", async () => {
    const steps: string[] = [];
    await driver().prepare("web", parseVmSpec({ name: "web", kernel }), (p) => steps.push(p.step));
    expect(steps).toEqual(["checking kernel, initrd and disk", "creating state directory", "prepared"]);
    expect(await driver().list()).toEqual(["web"]);
    expect(await driver().inspect("web")).toEqual({ state: "absent" });
    expect(statSync(path.join(vmsDir, "web")).mode & 0o777).toBe(0o700);
  });

  it("explains a missing kernel and a kernel that is a directory", async () => {
    const missing = parseVmSpec({ name: "web", kernel: path.join(root, "nope") });
    expect(await failure(driver().prepare("web", missing), "FAILED_PRECONDITION")).toMatch(
      /kernel .*nope does not exist on this node/,
    );
    const dir = parseVmSpec({ name: "web", kernel: root });
    expect(await failure(driver().prepare("web", dir), "INVALID_ARGUMENT")).toMatch(/not a regular file/);
  });

  it("lists only directories with valid VM names", async () => {
    mkdirSync(path.join(vmsDir, "b-vm"), { recursive: true });
    mkdirSync(path.join(vmsDir, "a-vm"));
    mkdirSync(path.join(vmsDir, "Not_A_VM"));
    writeFileSync(path.join(vmsDir, "stray-file"), "");
    expect(await driver().list()).toEqual(["a-vm", "b-vm"]);
  });

  it("does not mistake a reused pid for the VM", async () => {
    mkdirSync(path.join(vmsDir, "web"), { recursive: true });
    // The recorded pid is alive (it is this test process) but is not this VM's qemu.
    writeFileSync(path.join(vmsDir, "web", "vm.json"), JSON.stringify({ pid: process.pid, startedAt: 1 }));
    expect(await driver().inspect("web")).toEqual({
      state: "exited",
      exit: { code: null, signal: null, known: false },
    });
    await driver().remove("web");
    expect(await driver().list()).toEqual([]);
  });

  it("fails a start when the qemu binary is missing", async () => {
    const d = driver({ qemuBinary: path.join(root, "no-such-qemu") });
    expect(await failure(d.start("web", parseVmSpec({ name: "web", kernel })), "DRIVER_FAILED")).toMatch(
      /cannot run .*no-such-qemu/,
    );
  });

  it("fails a start when qemu exits at once, quoting its stderr and keeping the exit status", async () => {
    const fake = path.join(root, "fake-qemu");
    writeFileSync(fake, "#!/bin/sh\necho 'fake-qemu: cannot do that' >&2\nexit 3\n");
    chmodSync(fake, 0o755);
    const d = driver({ qemuBinary: fake });
    const message = await failure(d.start("web", parseVmSpec({ name: "web", kernel })), "DRIVER_FAILED");
    expect(message).toMatch(/exited during startup \(code 3/);
    expect(message).toMatch(/fake-qemu: cannot do that/);
    expect(await d.inspect("web")).toEqual({ state: "exited", exit: { code: 3, signal: null, known: true } });
  });

  it("kills a qemu that never becomes ready within the start timeout", async () => {
    const fake = path.join(root, "hung-qemu");
    // Stays alive without writing a pidfile or serving QMP.
    writeFileSync(fake, '#!/bin/sh\necho "$@" >/dev/null\nexec sleep 30\n');
    chmodSync(fake, 0o755);
    const d = driver({ qemuBinary: fake, startTimeoutMs: 300 });
    const message = await failure(d.start("web", parseVmSpec({ name: "web", kernel })), "DRIVER_FAILED");
    expect(message).toMatch(/not ready after 300 ms \(qemu wrote no pidfile\)/);
    expect(await d.inspect("web")).toEqual({
      state: "exited",
      exit: { code: null, signal: "SIGKILL", known: true },
    });
  });
});
