import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseVmSpec } from "../core/vm-spec.js";
import { ManualClock } from "../testing/manual-clock.js";
import { runDriverContract } from "./driver.contract.js";
import { DriverSet } from "./driver-set.js";
import { MemoryDriver } from "./memory/memory-driver.js";
import { MemoryHost } from "./memory/memory-host.js";

const qemuSpec = parseVmSpec({ name: "web", kernel: "/images/vmlinuz" });
const nixSpec = parseVmSpec({ name: "web", driver: "microvm-nix" });
const stop = { gracefulTimeoutMs: 10, quitTimeoutMs: 10, killTimeoutMs: 10 };

describe("DriverSet", () => {
  let vmsDir: string;
  let qemu: MemoryDriver;
  let nix: MemoryDriver;
  let set: DriverSet;

  beforeEach(() => {
    vmsDir = mkdtempSync(join(tmpdir(), "blixard-driver-set-"));
    const clock = new ManualClock(0);
    qemu = new MemoryDriver(new MemoryHost({ clock }), "qemu");
    nix = new MemoryDriver(new MemoryHost({ clock }), "microvm-nix");
    set = new DriverSet([qemu, nix], vmsDir);
  });
  afterEach(() => rmSync(vmsDir, { recursive: true, force: true }));

  it("offers every driver it holds", () => {
    expect(set.names).toEqual(["qemu", "microvm-nix"]);
  });

  it("sends a VM to the driver its spec names and records which one in its state dir", async () => {
    await set.prepare("web", nixSpec);
    await set.start("web", nixSpec);
    expect(nix.starts("web")).toBe(1);
    expect(qemu.calls).toEqual([]);
    expect(readFileSync(join(vmsDir, "web", "driver"), "utf8")).toBe("microvm-nix\n");
  });

  it("routes calls that carry only a name by the marker, also after a restart", async () => {
    await set.prepare("web", nixSpec);
    await set.start("web", nixSpec);
    const restarted = new DriverSet([qemu, nix], vmsDir);
    expect((await restarted.adopt("web")).state).toBe("running");
    expect(await restarted.stop("web", stop)).toBe("graceful");
    await restarted.remove("web");
    expect(nix.calls.map((c) => c.op)).toEqual(["prepare", "start", "adopt", "stop", "remove"]);
    expect(qemu.calls).toEqual([]);
  });

  it("gives a state dir without a marker (made before there were markers) to qemu", async () => {
    mkdirSync(join(vmsDir, "old"));
    await set.inspect("old");
    await set.stop("old", stop);
    expect(qemu.calls.map((c) => c.op)).toEqual(["stop"]);
  });

  it("refuses a driver the node does not offer, saying how to get it", async () => {
    const qemuOnly = new DriverSet([qemu], vmsDir);
    await expect(qemuOnly.prepare("web", nixSpec)).rejects.toThrow(
      /offers the qemu driver, not microvm-nix; install Nix/,
    );
  });

  it("does not hand a running VM to the other driver", async () => {
    await set.prepare("web", qemuSpec);
    await set.start("web", qemuSpec);
    await expect(set.prepare("web", nixSpec)).rejects.toThrow(/running under the qemu driver/);
    await set.stop("web", stop);
    await set.prepare("web", nixSpec);
    expect(readFileSync(join(vmsDir, "web", "driver"), "utf8")).toBe("microvm-nix\n");
  });

  it("lists the VMs of every driver once", async () => {
    await set.prepare("a", { ...qemuSpec, name: "a" });
    await set.prepare("b", { ...nixSpec, name: "b" });
    expect(await set.list()).toEqual(["a", "b"]);
  });
});

// The set is a VmDriver too: over in-memory drivers, name-only calls must reach the VM's own driver.
runDriverContract("driver set (memory qemu + memory microvm-nix)", async () => {
  const vmsDir = mkdtempSync(join(tmpdir(), "blixard-driver-set-contract-"));
  const clock = new ManualClock(0);
  const qemuHost = new MemoryHost({ clock });
  const nixHost = new MemoryHost({ clock, pidBase: 5000 });
  const set = () =>
    new DriverSet([new MemoryDriver(qemuHost, "qemu"), new MemoryDriver(nixHost, "microvm-nix")], vmsDir);
  const hostOf = (name: string) => (nixHost.has(name) ? nixHost : qemuHost);
  return {
    driver: set(),
    spec: (name) => parseVmSpec({ name, driver: "microvm-nix", microvm: { runner: "/nix/store/x-runner" } }),
    missingFileSpec: (name) => {
      nixHost.missingFiles.add("/missing/runner");
      return parseVmSpec({ name, driver: "microvm-nix", microvm: { runner: "/missing/runner" } });
    },
    restart: set,
    kill: async (name) => hostOf(name).crash(name),
    quarantined: async () =>
      [...qemuHost.quarantined, ...nixHost.quarantined].map(({ name, reason }) => ({ vm: name, reason })),
    stopOptions: stop,
    bootTimeoutMs: 1_000,
    cleanup: async () => rmSync(vmsDir, { recursive: true, force: true }),
  };
});
