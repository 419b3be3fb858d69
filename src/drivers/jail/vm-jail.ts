/**
 * Setting up and tearing down one VM's jail on the host: its uid (vm-uid.ts), its state dir and the
 * files qemu writes owned by that uid and closed to everyone else, its filesystem view
 * (jail-view.ts: the inputs read-only at /in/, the state dir, system dirs, devices, with the groups
 * that open those devices), and its cgroups with the VM's limits. Returns the plan jail-command.ts
 * turns into a command line.
 */
import { chmod, chown, lstat, mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type CgroupLayout, createVmCgroup, killVmCgroup, removeVmCgroup, vmLimits } from "./cgroups.js";
import { rebalanceCpuWeights } from "./cpu-weights.js";
import type { JailPlan } from "./jail-command.js";
import {
  deviceNumbers,
  INPUTS_DIR,
  probeSystemDirs,
  type SystemEntry,
  VIEW_MOUNTPOINT,
  VOLUMES_DIR,
  viewEntries,
} from "./jail-view.js";
import { baseDevices, ensureSkeleton, skeletonPlan } from "./skeleton.js";
import { claimVmUid, DEFAULT_UID_REGISTRY, releaseVmUid, VM_GROUP } from "./vm-uid.js";

export interface VmJailOptions {
  /** Absent where the host has no writable cgroup hierarchy (then only `--isolation none` runs). */
  cgroup?: CgroupLayout;
  mountNamespace: boolean;
  uidRegistry?: string;
  /** The host's system dirs (probed once; tests pass their own). */
  system?: SystemEntry[];
}

/** What else a VM's processes need, beyond their inputs. */
export interface VmNeeds {
  /** More plain file names in the state dir the VM's processes write (a runner's volumes). */
  writable?: string[];
  /** Character devices the VM's uid gets a node of its own for in its view, for example /dev/kvm. */
  devices?: string[];
  /** Host directories bound read-only at their own path (a microvm.nix runner's package). */
  readOnlyDirs?: string[];
  /** Absolute paths of the programs run in the view. */
  programs?: string[];
  /**
   * The VM's file-backed volumes (local volumes), in order. A read-write one is given to the VM's uid
   * while it is attached (the next VM to attach it takes it over); a read-only one stays root's,
   * readable by the VM group, so that VMs sharing it need not share a uid.
   */
  volumes?: { path: string; readOnly: boolean }[];
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
  /** The paths the jailed process sees its inputs at (inside its view). */
  inputs: VmInputs;
  cgroupDirs: string[];
  /** Where the jailed process opens each of `needs.volumes`, in order. */
  volumes: string[];
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

/**
 * Makes a volume file openable by the VM's uid: read-write ones become its own (0600), read-only ones
 * root's and the VM group's (0640). A symlink is refused: the volumes dir is root's alone, so one
 * there was planted.
 */
async function giveVolume(path: string, readOnly: boolean, uid: number): Promise<void> {
  const info = await lstat(path);
  if (!info.isFile()) throw new Error(`volume file ${path} is not a regular file`);
  if (readOnly) {
    await chown(path, 0, VM_GROUP);
    await chmod(path, 0o640);
  } else {
    await chown(path, uid, uid);
    await chmod(path, 0o600);
  }
}

/** The device numbers of each character device the VM gets a node of its own for. */
async function ownDevices(devices: string[]): Promise<{ path: string; device: string }[]> {
  const found: { path: string; device: string }[] = [];
  for (const path of devices) {
    const info = await stat(path);
    if (!info.isCharacterDevice()) throw new Error(`${path} is not a character device`);
    found.push({ path, device: deviceNumbers(info.rdev) });
  }
  return found;
}

export class VmJail {
  private system: SystemEntry[] | undefined;
  private skeleton: Promise<string> | undefined;

  constructor(private readonly opts: VmJailOptions) {
    this.system = opts.system;
  }

  get registry(): string {
    return this.opts.uidRegistry ?? DEFAULT_UID_REGISTRY;
  }

  async enter(
    name: string,
    stateDir: string,
    spec: { memory: number; vcpus: number },
    inputs: VmInputs,
    needs: VmNeeds = {},
  ): Promise<JailedVm> {
    const uid = await claimVmUid(stateDir, this.registry);
    await chown(stateDir, uid, uid);
    await chmod(stateDir, 0o700);
    for (const file of [...VM_WRITABLE, ...(needs.writable ?? [])]) {
      await chownIfExists(join(stateDir, file), uid);
    }

    const volumes = needs.volumes ?? [];
    for (const v of volumes) await giveVolume(v.path, v.readOnly, uid);

    let view: JailPlan["view"];
    const seen: VmInputs = {};
    if (this.opts.mountNamespace) {
      // The inputs are bound in the VM's own namespace only, so its uid needs no access to wherever
      // they really live, and sees nothing else there.
      const bound: Record<string, string> = {};
      for (const key of ["kernel", "initrd", "disk"] as const) {
        const source = inputs[key];
        if (source === undefined) continue;
        bound[key] = source;
        seen[key] = join(INPUTS_DIR, key);
      }
      await mkdir(VIEW_MOUNTPOINT, { recursive: true, mode: 0o755 });
      this.system ??= probeSystemDirs();
      const system = this.system;
      this.skeleton ??= baseDevices().then((devices) =>
        ensureSkeleton(dirname(VIEW_MOUNTPOINT), skeletonPlan(system, devices)),
      );
      // Made once per node process; a failure is tried again at the next start.
      const skeleton = await this.skeleton.catch((err: unknown) => {
        this.skeleton = undefined;
        throw err;
      });
      view = viewEntries({
        skeleton,
        stateDir,
        system: this.system,
        inputs: bound,
        owner: uid,
        ownDevices: await ownDevices(needs.devices ?? []),
        ...(needs.readOnlyDirs ? { readOnlyDirs: needs.readOnlyDirs } : {}),
        ...(volumes.length > 0 ? { volumes } : {}),
        ...(needs.programs ? { programs: needs.programs } : {}),
      });
    } else {
      Object.assign(seen, inputs);
    }

    let cgroupProcs: string[] = [];
    if (this.opts.cgroup) {
      cgroupProcs = await createVmCgroup(this.opts.cgroup, name, vmLimits(spec));
      await rebalanceCpuWeights(this.opts.cgroup);
    }
    return {
      uid,
      inputs: seen,
      volumes: this.opts.mountNamespace
        ? volumes.map((_, i) => `${VOLUMES_DIR}/${i}`)
        : volumes.map((v) => v.path),
      cgroupDirs: cgroupProcs.map((f) => f.slice(0, -"/cgroup.procs".length)),
      plan: {
        uid,
        gid: uid,
        groups: [VM_GROUP],
        cgroupProcs,
        ...(view ? { view } : {}),
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
    await rebalanceCpuWeights(this.opts.cgroup);
    return killed;
  }

  /** When the VM is removed: its uid is free for another VM. */
  async release(stateDir: string, uid: number): Promise<void> {
    await releaseVmUid(stateDir, uid, this.registry);
  }
}
