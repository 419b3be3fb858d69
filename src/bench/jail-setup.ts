/**
 * The jail's own cost at start, apart from the boot: setting up a VM's uid, state dir ownership,
 * its view's plan and cgroups (VmJail.enter); the launcher's exec chain up to the program with the
 * filesystem view against the same chain without it; and starting its passt until the socket is
 * there. Real cgroups, mounts and a real passt: needs root, as the jail does.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVmSpec } from "../core/vm-spec.js";
import { nodeCgroupGroup, removeNodeCgroups } from "../drivers/jail/cgroups.js";
import { openToVmGroup } from "../drivers/jail/data-dir-access.js";
import { probeHostIsolation } from "../drivers/jail/host-isolation.js";
import { jailedCommand, selfConfinedPlan } from "../drivers/jail/jail-command.js";
import { VmJail } from "../drivers/jail/vm-jail.js";
import { launchPasst, stopPasst } from "../drivers/qemu/launch-passt.js";
import { passtArgs } from "../drivers/qemu/passt.js";
import { vmPaths } from "../drivers/qemu/vm-paths.js";
import { pollUntil } from "../drivers/shared/poll.js";
import { isVmProcess } from "../drivers/shared/process-probe.js";
import { systemClock } from "../platform/system-clock.js";

export interface JailSetup {
  enterMs: number[];
  /** The launcher running `true` with the view (mount namespace, tmpfs, binds, chroot). */
  viewMs: number[];
  /** The same launcher and program without the view. */
  noViewMs: number[];
  passtMs: number[];
}

function timedRun(argv: string[]): number {
  const t0 = performance.now();
  const res = spawnSync(argv[0]!, argv.slice(1), { stdio: "ignore" });
  if (res.status !== 0) throw new Error(`${argv[0]} exited with ${res.status}`);
  return performance.now() - t0;
}

export async function measureJailSetup(kernel: string, initrd: string, rounds: number): Promise<JailSetup> {
  const host = probeHostIsolation({ mode: "strict" });
  if (!host.cgroup || host.missing.length > 0)
    throw new Error(`cannot jail here: ${host.missing.join("; ")}`);
  const root = mkdtempSync(join(tmpdir(), "blixard-jail-bench-"));
  const vmsDir = join(root, "vms");
  mkdirSync(vmsDir);
  // As a node does at start: VM processes may pass through to their state dirs.
  await openToVmGroup(root, vmsDir);
  const registry = join(root, "uids");
  const jail = new VmJail({
    cgroup: { ...host.cgroup, group: nodeCgroupGroup(vmsDir) },
    mountNamespace: host.mountNamespace,
    uidRegistry: registry,
  });
  const spec = parseVmSpec({ name: "jailbench", kernel, initrd });
  const paths = vmPaths(vmsDir, "jailbench");
  const result: JailSetup = { enterMs: [], viewMs: [], noViewMs: [], passtMs: [] };
  try {
    for (let i = 0; i < rounds; i++) {
      mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
      const t0 = performance.now();
      const jailed = await jail.enter("jailbench", paths.stateDir, spec, { kernel, initrd });
      const t1 = performance.now();
      // Alternating which goes first, as the start benchmark does.
      const withView = () => result.viewMs.push(timedRun(jailedCommand(jailed.plan, "true", [])));
      const without = () =>
        result.noViewMs.push(timedRun(jailedCommand(selfConfinedPlan(jailed.plan), "true", [])));
      for (const step of i % 2 === 0 ? [withView, without] : [without, withView]) step();
      const t1b = performance.now();
      const passt = await launchPasst({
        command: jailedCommand(
          selfConfinedPlan(jailed.plan),
          host.passt ?? "passt",
          passtArgs(spec, paths.passtSocket),
        ),
        paths,
        clock: systemClock,
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
      });
      const t2 = performance.now();
      result.enterMs.push(t1 - t0);
      result.passtMs.push(t2 - t1b);
      await stopPasst(passt.pid, paths.stateDir);
      // Polled: the child is unreferenced, so awaiting its exit alone would let Node exit first.
      await pollUntil(systemClock, 5_000, 20, async () =>
        (await isVmProcess(passt.pid, paths.stateDir)) ? undefined : true,
      );
      await jail.leave("jailbench");
      await jail.release(paths.stateDir, jailed.uid);
      rmSync(paths.stateDir, { recursive: true, force: true });
    }
  } finally {
    await removeNodeCgroups({ ...host.cgroup, group: nodeCgroupGroup(vmsDir) });
    rmSync(root, { recursive: true, force: true });
  }
  return result;
}
