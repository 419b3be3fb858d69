import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CgroupLayout, createVmCgroup, vmLimits } from "./cgroups.js";
import { cpuWeight, quotaCpus, rebalanceCpuWeights } from "./cpu-weights.js";

describe("CPU weights of VM cgroups", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "cgroup-weights-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("weighs CPUs as the kernel does, within its bounds", () => {
    expect(cpuWeight("v1", 2)).toBe(2048);
    expect(cpuWeight("v2", 2)).toBe(200);
    expect(cpuWeight("v1", 1000)).toBe(262_144);
    expect(cpuWeight("v2", 1000)).toBe(10_000);
    expect(cpuWeight("v2", 0)).toBe(1);
    expect(quotaCpus("300000", "100000")).toBe(3);
    expect(quotaCpus("-1", "100000")).toBe(1);
  });

  it("v1: each VM weighs its vcpus + 1, each node its VMs, blixard/ all nodes; a removed VM gives its share back", async () => {
    for (const c of ["memory", "cpu", "pids"]) mkdirSync(join(root, c));
    const a: CgroupLayout = { version: "v1", root, group: "blixard/node-a" };
    const b: CgroupLayout = { version: "v1", root, group: "blixard/node-b" };
    await createVmCgroup(a, "web", vmLimits({ memory: 128, vcpus: 1 }));
    await createVmCgroup(a, "db", vmLimits({ memory: 128, vcpus: 3 }));
    await createVmCgroup(b, "cache", vmLimits({ memory: 128, vcpus: 2 }));
    await rebalanceCpuWeights(a);
    const shares = (p: string) => Number(readFileSync(join(root, "cpu", p, "cpu.shares"), "utf8"));
    // Without this, all six of these VMs' CPUs would weigh one busy host thread's 1024 together.
    expect(shares("blixard/node-a/web")).toBe(2 * 1024);
    expect(shares("blixard/node-a/db")).toBe(4 * 1024);
    expect(shares("blixard/node-a")).toBe(6 * 1024);
    expect(shares("blixard/node-b")).toBe(3 * 1024);
    expect(shares("blixard")).toBe(9 * 1024);
    // A real cgroup dir is empty of files to rmdir; this stand-in is removed whole.
    for (const c of ["memory", "cpu", "pids"])
      rmSync(join(root, c, "blixard/node-a/db"), { recursive: true });
    await rebalanceCpuWeights(a);
    expect(shares("blixard/node-a")).toBe(2 * 1024);
    expect(shares("blixard")).toBe(5 * 1024);
  });

  it("v2: the same with cpu.weight, from cpu.max", async () => {
    writeFileSync(join(root, "cgroup.controllers"), "cpu memory pids");
    const a: CgroupLayout = { version: "v2", root, group: "blixard/node-a" };
    await createVmCgroup(a, "web", vmLimits({ memory: 128, vcpus: 2 }));
    await rebalanceCpuWeights(a);
    const weight = (p: string) => Number(readFileSync(join(root, p, "cpu.weight"), "utf8"));
    expect(weight("blixard/node-a/web")).toBe(300);
    expect(weight("blixard/node-a")).toBe(300);
    expect(weight("blixard")).toBe(300);
  });
});
