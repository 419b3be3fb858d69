/**
 * CPU weights for the VM cgroups and their ancestors, so that jailed VMs get the CPU share they would
 * have had unjailed. Under contention the kernel divides CPU between siblings by weight: a busy thread
 * in the root cgroup weighs one CPU's worth (cgroup v1 `cpu.shares` 1024, v2 `cpu.weight` 100), and
 * so does a child cgroup by default, whatever it holds. Left at the defaults, every VM of every node
 * on the host would share one thread's worth against the host's own processes. So each VM cgroup
 * weighs what its CPU quota allows (vcpus + 1), each node's group the sum of its VMs, and `blixard/`
 * the sum of its nodes. Recomputed from the quotas on disk whenever a VM cgroup comes or goes, so
 * several nodes on one host agree. The root is a parameter, as in cgroups.ts, for tests.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CgroupLayout } from "./cgroups.js";

const ONE_CPU = { v1: 1024, v2: 100 } as const;
/** The kernel's bounds: v1 `cpu.shares` 2..262144, v2 `cpu.weight` 1..10000. */
const BOUNDS = { v1: [2, 262_144], v2: [1, 10_000] } as const;

/** The weight of `cpus` CPUs' worth, within the kernel's bounds. Pure. */
export function cpuWeight(version: CgroupLayout["version"], cpus: number): number {
  const [min, max] = BOUNDS[version];
  return Math.min(max, Math.max(min, Math.round(ONE_CPU[version] * cpus)));
}

/** CPUs a cgroup's quota allows, from v1 quota and period or v2 `cpu.max`; 1 when unlimited. Pure. */
export function quotaCpus(quota: string, period: string): number {
  const q = Number(quota.trim());
  const p = Number(period.trim());
  if (!Number.isFinite(q) || q <= 0 || !Number.isFinite(p) || p <= 0) return 1;
  return q / p;
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

async function cpusOf(version: CgroupLayout["version"], dir: string): Promise<number> {
  if (version === "v2") {
    const [quota = "max", period = "100000"] = (await readFile(join(dir, "cpu.max"), "utf8"))
      .trim()
      .split(" ");
    return quotaCpus(quota === "max" ? "-1" : quota, period);
  }
  const [quota, period] = await Promise.all([
    readFile(join(dir, "cpu.cfs_quota_us"), "utf8"),
    readFile(join(dir, "cpu.cfs_period_us"), "utf8"),
  ]);
  return quotaCpus(quota, period);
}

/**
 * Writes the weights of every VM cgroup under `blixard/`, of each node's group and of `blixard/`
 * itself. A cgroup that vanishes meanwhile (its VM was removed) is skipped.
 */
export async function rebalanceCpuWeights(layout: CgroupLayout): Promise<void> {
  const top = layout.group.split("/")[0]!;
  const base = layout.version === "v2" ? join(layout.root, top) : join(layout.root, "cpu", top);
  const file = layout.version === "v2" ? "cpu.weight" : "cpu.shares";
  const write = (dir: string, cpus: number) =>
    writeFile(join(dir, file), String(cpuWeight(layout.version, cpus))).catch(() => undefined);
  let total = 0;
  for (const node of await subdirs(base)) {
    let sum = 0;
    for (const vm of await subdirs(join(base, node))) {
      const dir = join(base, node, vm);
      const cpus = await cpusOf(layout.version, dir).catch(() => undefined);
      if (cpus === undefined) continue;
      await write(dir, cpus);
      sum += cpus;
    }
    // A node with no VMs left weighs one CPU, as a cgroup does by default.
    await write(join(base, node), sum || 1);
    total += sum;
  }
  await write(base, total || 1);
}
