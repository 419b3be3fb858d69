/**
 * The VmDriver contract against the qemu driver with real TCG guests from the test image, jailed as a
 * node runs them by default (`--isolation strict`: own uid, cgroups, mount namespace, seccomp). Each
 * case gets its own data dir; a case boots at most two guests. Runs in the e2e project, whose global
 * setup builds the image and checks for qemu; it never skips itself.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseVmSpec } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import type { VmDriver } from "../../ports/vm-driver.js";
import { imageDir } from "../../testing/test-image.js";
import { runDriverContract } from "../driver.contract.js";
import { nodeCgroupGroup } from "../jail/cgroups.js";
import { openToVmGroup } from "../jail/data-dir-access.js";
import { probeHostIsolation } from "../jail/host-isolation.js";
import { removeJailLeftovers } from "../jail/leftovers.js";
import { VmJail } from "../jail/vm-jail.js";
import { isVmProcess } from "../shared/process-probe.js";
import { listQuarantine, quarantineDirFor } from "../shared/quarantine.js";
import { vmStateDir } from "../shared/vm-paths.js";
import { QemuDriver } from "./qemu-driver.js";

const KERNEL = path.join(imageDir(), "vmlinuz");
const INITRD = path.join(imageDir(), "initrd.img");

function hostJail(vmsDir: string): VmJail {
  const host = probeHostIsolation({ mode: "strict" });
  if (!host.cgroup || host.missing.length > 0)
    throw new Error(`cannot jail here: ${host.missing.join("; ")}`);
  return new VmJail({
    cgroup: { ...host.cgroup, group: nodeCgroupGroup(vmsDir) },
    mountNamespace: host.mountNamespace,
  });
}

runDriverContract("qemu (TCG, jailed)", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "blixard-qemu-contract-"));
  const vmsDir = path.join(root, "vms");
  mkdirSync(vmsDir);
  // As a node does at start: jailed VM processes may pass through to their state dirs.
  await openToVmGroup(root, vmsDir);
  const jail = hostJail(vmsDir);
  const drivers: VmDriver[] = [];
  const newDriver = () => {
    const driver = new QemuDriver({ vmsDir, accel: "tcg", logger: silentLogger, clock: systemClock, jail });
    drivers.push(driver);
    return driver;
  };
  return {
    driver: newDriver(),
    spec: (name) => parseVmSpec({ name, kernel: KERNEL, initrd: INITRD, memory: 256 }),
    missingFileSpec: (name) =>
      parseVmSpec({ name, kernel: path.join(root, "missing", "vmlinuz"), initrd: INITRD, memory: 256 }),
    restart: newDriver,
    kill: async (name, pid) => {
      if (await isVmProcess(pid, vmStateDir(vmsDir, name).stateDir)) process.kill(pid, "SIGKILL");
    },
    quarantined: async () =>
      (await listQuarantine(quarantineDirFor(vmsDir))).map(({ vm, reason }) => ({ vm, reason })),
    stopOptions: { gracefulTimeoutMs: 30_000, quitTimeoutMs: 10_000, killTimeoutMs: 5_000 },
    bootTimeoutMs: 120_000,
    cleanup: async () => {
      // Whatever a failed case left running dies by its pid, and only if it is one of this case's VMs.
      for (const driver of drivers) {
        for (const name of await driver.list()) {
          const runtime = await driver.inspect(name);
          if (
            runtime.state === "running" &&
            (await isVmProcess(runtime.pid, vmStateDir(vmsDir, name).stateDir))
          )
            process.kill(runtime.pid, "SIGKILL");
        }
      }
      for (const name of await drivers[0]!.list())
        await drivers[0]!
          .stop(name, { gracefulTimeoutMs: 0, quitTimeoutMs: 0, killTimeoutMs: 5_000 })
          .catch(() => undefined);
      await removeJailLeftovers(vmsDir);
      rmSync(root, { recursive: true, force: true });
    },
  };
});
