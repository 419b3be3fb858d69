/**
 * A cgroup per VM, so that a guest (or a qemu it subverted) cannot take more memory, CPU or pids than
 * the VM was given: the v1 memory, cpu and pids hierarchies where that is what the host has, one v2
 * cgroup where it has the unified hierarchy. The root is a parameter so the writes are tested against
 * a temporary directory standing in for /sys/fs/cgroup.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export type CgroupVersion = "v1" | "v2";

export interface CgroupLayout {
  version: CgroupVersion;
  /** Usually /sys/fs/cgroup. */
  root: string;
  /**
   * The node's own group under which VM cgroups go (`blixard/<hash of its vms dir>`), so that two
   * nodes on one host never share a VM's cgroup.
   */
  group: string;
}

export interface CgroupLimits {
  memoryBytes: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  pidsMax: number;
}

/** What qemu needs beyond the guest's RAM (TCG translation cache, device state, passt's buffers). */
export const MEMORY_OVERHEAD_MIB = 256;
export const CPU_PERIOD_US = 100_000;
/** qemu's threads (vcpus, main loop, I/O workers) and passt; a fork or thread bomb stops here. */
export const PIDS_MAX = 256;

/**
 * The limits of a VM: its memory plus the measured overhead; its vcpus plus one CPU for qemu's main
 * loop and I/O threads and passt (a TCG guest with exactly its vcpus boots visibly slower).
 */
export function vmLimits(spec: { memory: number; vcpus: number }): CgroupLimits {
  return {
    memoryBytes: (spec.memory + MEMORY_OVERHEAD_MIB) * 1024 * 1024,
    cpuQuotaUs: (spec.vcpus + 1) * CPU_PERIOD_US,
    cpuPeriodUs: CPU_PERIOD_US,
    pidsMax: PIDS_MAX,
  };
}

export function nodeCgroupGroup(vmsDir: string): string {
  return `blixard/${createHash("sha256").update(vmsDir).digest("hex").slice(0, 12)}`;
}

const V1_CONTROLLERS = ["memory", "cpu", "pids"] as const;

/** The VM's cgroup directories: one per v1 hierarchy, or the single v2 one. */
export function vmCgroupDirs(layout: CgroupLayout, name: string): string[] {
  if (layout.version === "v2") return [join(layout.root, layout.group, name)];
  return V1_CONTROLLERS.map((c) => join(layout.root, c, layout.group, name));
}

/** The v1 memory dir or the v2 dir: where memory limit and usage are read. */
export function memoryDir(layout: CgroupLayout, name: string): string {
  return layout.version === "v2"
    ? join(layout.root, layout.group, name)
    : join(layout.root, "memory", layout.group, name);
}

/** The limit files and values to write, per cgroup dir, in order. */
export function limitWrites(layout: CgroupLayout, name: string, limits: CgroupLimits): [string, string][] {
  const [a, b, c] = vmCgroupDirs(layout, name) as [string, string, string];
  if (layout.version === "v2") {
    return [
      [join(a, "memory.max"), String(limits.memoryBytes)],
      [join(a, "cpu.max"), `${limits.cpuQuotaUs} ${limits.cpuPeriodUs}`],
      [join(a, "pids.max"), String(limits.pidsMax)],
    ];
  }
  return [
    [join(a, "memory.limit_in_bytes"), String(limits.memoryBytes)],
    [join(b, "cpu.cfs_period_us"), String(limits.cpuPeriodUs)],
    [join(b, "cpu.cfs_quota_us"), String(limits.cpuQuotaUs)],
    [join(c, "pids.max"), String(limits.pidsMax)],
  ];
}

/**
 * Creates the VM's cgroups with their limits and returns their cgroup.procs files. For v2 the
 * controllers are first enabled for the children of each ancestor.
 */
export async function createVmCgroup(
  layout: CgroupLayout,
  name: string,
  limits: CgroupLimits,
): Promise<string[]> {
  const dirs = vmCgroupDirs(layout, name);
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  if (layout.version === "v2") {
    // Controllers reach a cgroup only when every ancestor enables them for its children.
    let dir = layout.root;
    await writeFile(join(dir, "cgroup.subtree_control"), "+memory +cpu +pids");
    for (const part of layout.group.split("/")) {
      dir = join(dir, part);
      await writeFile(join(dir, "cgroup.subtree_control"), "+memory +cpu +pids");
    }
  }
  for (const [file, value] of limitWrites(layout, name, limits)) await writeFile(file, value);
  return dirs.map((d) => join(d, "cgroup.procs"));
}

/**
 * SIGKILLs every process still in the VM's cgroups, for when its hypervisor is down: a guest that
 * took over qemu (a microvm.nix runner's `-sandbox on` allows spawning) may have forked helpers that
 * would outlive the VM as its uid, racing the node's next writes in its state dir. Only processes
 * the VM's cgroup holds are touched; a VM uid cannot move anyone else in (cgroup.procs is root's).
 * Returns how many it killed.
 */
export async function killVmCgroup(layout: CgroupLayout, name: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    const pids = new Set<number>();
    for (const dir of vmCgroupDirs(layout, name)) {
      const text = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => "");
      for (const line of text.split("\n")) if (/^\d+$/.test(line)) pids.add(Number(line));
    }
    if (pids.size === 0) return killed;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed++;
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return killed;
}

/** Removes the VM's cgroups once no process is left in them; one still in use is left alone. */
export async function removeVmCgroup(layout: CgroupLayout, name: string): Promise<void> {
  for (const dir of vmCgroupDirs(layout, name)) {
    try {
      await rmdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EBUSY") throw err;
    }
  }
}

/**
 * Removes a node's group and every VM cgroup left in it, for tests that remove a whole node (a node
 * itself leaves them: its VMs outlive it). Cgroups whose processes are still exiting are retried.
 */
export async function removeNodeCgroups(layout: CgroupLayout): Promise<void> {
  const roots =
    layout.version === "v2"
      ? [join(layout.root, layout.group)]
      : V1_CONTROLLERS.map((c) => join(layout.root, c, layout.group));
  for (const group of roots) {
    let entries: string[];
    try {
      entries = (await readdir(group, { withFileTypes: true }))
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const dir of [...entries.map((e) => join(group, e)), group]) {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT") break;
          if (code !== "EBUSY" || attempt === 49) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  }
}
