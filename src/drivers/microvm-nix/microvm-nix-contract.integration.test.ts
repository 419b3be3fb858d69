/**
 * The VmDriver contract against the microvm-nix driver, supervising a runner in microvm.nix's layout
 * whose microvm-run boots the real qemu test guest under TCG (testing/microvm-runner.ts). The runner
 * is given prebuilt, so no Nix is needed and the suite never skips: what needs Nix (building a flake)
 * is covered by nix-build.integration.test.ts. Runs in the e2e project, whose global setup builds
 * the guest image and checks for qemu.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVmSpec } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import type { VmDriver } from "../../ports/vm-driver.js";
import { writeRunnerFixture } from "../../testing/microvm-runner.js";
import { imageDir } from "../../testing/test-image.js";
import { runDriverContract } from "../driver.contract.js";
import { hostTscKhz } from "../qemu/host-tsc.js";
import { isVmProcess } from "../shared/process-probe.js";
import { listQuarantine, quarantineDirFor } from "../shared/quarantine.js";
import { vmStateDir } from "../shared/vm-paths.js";
import { MicrovmNixDriver } from "./microvm-nix-driver.js";

runDriverContract("microvm-nix (prebuilt runner, TCG)", async () => {
  const root = mkdtempSync(join(tmpdir(), "blixard-microvm-contract-"));
  const vmsDir = join(root, "vms");
  const drivers: VmDriver[] = [];
  const newDriver = () => {
    const driver = new MicrovmNixDriver({ vmsDir, logger: silentLogger, clock: systemClock, settleMs: 500 });
    drivers.push(driver);
    return driver;
  };
  const runner = (name: string) =>
    writeRunnerFixture({
      dir: join(root, "runners", name),
      name,
      kernel: join(imageDir(), "vmlinuz"),
      initrd: join(imageDir(), "initrd.img"),
      tscKhz: hostTscKhz(),
    });
  return {
    driver: newDriver(),
    spec: (name) =>
      parseVmSpec({ name, driver: "microvm-nix", memory: 256, microvm: { runner: runner(name) } }),
    missingFileSpec: (name) =>
      parseVmSpec({
        name,
        driver: "microvm-nix",
        memory: 256,
        microvm: { runner: join(root, "missing-runner") },
      }),
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
      rmSync(root, { recursive: true, force: true });
    },
  };
});
