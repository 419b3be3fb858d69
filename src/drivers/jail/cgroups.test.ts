import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type CgroupLayout,
  createVmCgroup,
  nodeCgroupGroup,
  removeNodeCgroups,
  vmLimits,
} from "./cgroups.js";

describe("VM cgroups", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "cgroup-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("limits memory to the VM's plus the overhead, CPU to its vcpus plus one, and pids", () => {
    expect(vmLimits({ memory: 256, vcpus: 2 })).toEqual({
      memoryBytes: 512 * 1024 * 1024,
      cpuQuotaUs: 300_000,
      cpuPeriodUs: 100_000,
      pidsMax: 256,
    });
  });

  it("writes the v1 memory, cpu and pids limits into one cgroup per hierarchy", async () => {
    for (const c of ["memory", "cpu", "pids"]) mkdirSync(join(root, c));
    const layout: CgroupLayout = { version: "v1", root, group: "blixard/abc" };
    const procs = await createVmCgroup(layout, "web", vmLimits({ memory: 128, vcpus: 1 }));
    const read = (...p: string[]) => readFileSync(join(root, ...p), "utf8");
    expect(read("memory/blixard/abc/web/memory.limit_in_bytes")).toBe(String(384 * 1024 * 1024));
    expect(read("cpu/blixard/abc/web/cpu.cfs_period_us")).toBe("100000");
    expect(read("cpu/blixard/abc/web/cpu.cfs_quota_us")).toBe("200000");
    expect(read("pids/blixard/abc/web/pids.max")).toBe("256");
    expect(procs).toEqual(
      ["memory", "cpu", "pids"].map((c) => join(root, c, "blixard/abc/web/cgroup.procs")),
    );
  });

  it("writes v2 limits and enables the controllers on every ancestor, but not on the VM's own cgroup", async () => {
    writeFileSync(join(root, "cgroup.controllers"), "cpu memory pids");
    const layout: CgroupLayout = { version: "v2", root, group: "blixard/abc" };
    const procs = await createVmCgroup(layout, "web", vmLimits({ memory: 128, vcpus: 1 }));
    const read = (...p: string[]) => readFileSync(join(root, ...p), "utf8");
    expect(read("blixard/abc/web/memory.max")).toBe(String(384 * 1024 * 1024));
    expect(read("blixard/abc/web/cpu.max")).toBe("200000 100000");
    expect(read("blixard/abc/web/pids.max")).toBe("256");
    for (const dir of ["", "blixard", "blixard/abc"]) {
      expect(read(dir, "cgroup.subtree_control")).toBe("+memory +cpu +pids");
    }
    expect(() => read("blixard/abc/web/cgroup.subtree_control")).toThrow();
    expect(procs).toEqual([join(root, "blixard/abc/web/cgroup.procs")]);
  });

  it("removes a node's group with the VM cgroups left in it, and nothing of another node's", async () => {
    const mine: CgroupLayout = { version: "v1", root, group: "blixard/mine" };
    const other: CgroupLayout = { version: "v1", root, group: "blixard/other" };
    for (const c of ["memory", "cpu", "pids"]) {
      mkdirSync(join(root, c, "blixard/mine/web"), { recursive: true });
      mkdirSync(join(root, c, "blixard/mine/db"), { recursive: true });
      mkdirSync(join(root, c, "blixard/other/web"), { recursive: true });
    }
    await removeNodeCgroups(mine);
    for (const c of ["memory", "cpu", "pids"]) {
      expect(existsSync(join(root, c, "blixard/mine"))).toBe(false);
      expect(existsSync(join(root, c, "blixard/other/web"))).toBe(true);
    }
    await removeNodeCgroups(other);
    expect(existsSync(join(root, "memory/blixard/other"))).toBe(false);
  });

  it("keeps two nodes on one host apart, so one VM name never shares a cgroup across nodes", () => {
    expect(nodeCgroupGroup("/var/lib/a/vms")).not.toBe(nodeCgroupGroup("/var/lib/b/vms"));
    expect(nodeCgroupGroup("/var/lib/a/vms")).toMatch(/^blixard\/[0-9a-f]{12}$/);
  });
});
