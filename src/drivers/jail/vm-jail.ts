/**
 * Setting up and tearing down one VM's jail on the host: its uid (vm-uid.ts), its state dir and the
 * files qemu writes owned by that uid and closed to everyone else, placeholders in `<state dir>/in/`
 * over which the inputs (kernel, initrd, base disk) are bound read-only, and its cgroups with the
 * VM's limits. Returns the plan jail-command.ts turns into a command line.
 */
import { chmod, chown, lstat, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CgroupLayout, createVmCgroup, killVmCgroup, removeVmCgroup, vmLimits } from "./cgroups.js";
import type { Bind, JailPlan } from "./jail-command.js";
import { claimVmUid, DEFAULT_UID_REGISTRY, releaseVmUid, VM_GROUP } from "./vm-uid.js";

export interface VmJailOptions {
  /** Absent where the host has no writable cgroup hierarchy (then only `--isolation none` runs). */
  cgroup?: CgroupLayout;
  mountNamespace: boolean;
  uidRegistry?: string;
}

export interface VmInputs {
  /** Absent for a microvm.nix runner, whose script names its own kernel (in the Nix store). */
  kernel?: string;
  initrd?: string;
  disk?: string;
}

export interface JailedVm {
  uid: number;
  plan: JailPlan;
  /** The paths the jailed process sees its inputs at (inside its state dir). */
  inputs: VmInputs;
  cgroupDirs: string[];
}

/**
 * Files in the state dir that qemu itself opens for writing, given to the VM's uid: the qemu driver's
 * console and overlay, a microvm-nix VM's copied disk image (its volumes are added by the driver).
 */
const VM_WRITABLE = ["console.log", "disk.qcow2", "disk.img"];

async function chownIfExists(file: string, uid: number): Promise<void> {
  try {
    const info = await lstat(file);
    if (!info.isFile()) return;
    if (info.uid !== uid) await chown(file, uid, uid);
    if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

export class VmJail {
  constructor(private readonly opts: VmJailOptions) {}

  get registry(): string {
    return this.opts.uidRegistry ?? DEFAULT_UID_REGISTRY;
  }

  async enter(
    name: string,
    stateDir: string,
    spec: { memory: number; vcpus: number },
    inputs: VmInputs,
    /** More plain file names in the state dir the VM's processes write (a runner's volumes). */
    writable: string[] = [],
  ): Promise<JailedVm> {
    const uid = await claimVmUid(stateDir, this.registry);
    await chown(stateDir, uid, uid);
    await chmod(stateDir, 0o700);
    for (const file of [...VM_WRITABLE, ...writable]) await chownIfExists(join(stateDir, file), uid);

    const binds: Bind[] = [];
    const seen: VmInputs = {};
    const inDir = join(stateDir, "in");
    if (this.opts.mountNamespace) {
      // Root-owned and read-only to the VM: the mounts go over these placeholders in the VM's own
      // namespace only, so the jailed uid needs no access to wherever the inputs really live.
      await mkdir(inDir, { recursive: true, mode: 0o755 });
      for (const key of ["kernel", "initrd", "disk"] as const) {
        const source = inputs[key];
        if (source === undefined) continue;
        const target = join(inDir, key);
        await writeFile(target, "", { mode: 0o444 });
        binds.push({ source, target });
        seen[key] = target;
      }
    } else {
      Object.assign(seen, inputs);
    }

    let cgroupProcs: string[] = [];
    if (this.opts.cgroup) cgroupProcs = await createVmCgroup(this.opts.cgroup, name, vmLimits(spec));
    return {
      uid,
      inputs: seen,
      cgroupDirs: cgroupProcs.map((f) => f.slice(0, -"/cgroup.procs".length)),
      plan: {
        uid,
        gid: uid,
        groups: [VM_GROUP],
        cgroupProcs,
        binds,
        mountNamespace: this.opts.mountNamespace,
      },
    };
  }

  /**
   * After the VM's hypervisor has exited: whatever it left in its cgroups is killed (returned: how
   * many), then the cgroups go (they are made again at the next start).
   */
  async leave(name: string): Promise<number> {
    if (!this.opts.cgroup) return 0;
    const killed = await killVmCgroup(this.opts.cgroup, name);
    await removeVmCgroup(this.opts.cgroup, name);
    return killed;
  }

  /** When the VM is removed: its uid is free for another VM. */
  async release(stateDir: string, uid: number): Promise<void> {
    await releaseVmUid(stateDir, uid, this.registry);
  }
}
