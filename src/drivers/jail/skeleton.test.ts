import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureSkeleton, skeletonPlan } from "./skeleton.js";

const system = [
  { path: "/usr", kind: "dir" as const },
  { path: "/bin", link: "usr/bin" },
  { path: "/etc/ld.so.cache", kind: "file" as const },
];

describe("jail skeleton", () => {
  it("holds the system links, mountpoints, base devices and the inputs' directory", () => {
    expect(skeletonPlan(system, [{ path: "/dev/null", device: "1:3" }])).toEqual([
      { type: "dir", path: "/usr" },
      { type: "link", path: "/bin", target: "usr/bin" },
      { type: "file", path: "/etc/ld.so.cache" },
      { type: "chr", path: "/dev/null", device: "1:3" },
      { type: "dir", path: "/in" },
    ]);
  });
});

describe.runIf(process.getuid?.() === 0)("jail skeleton on disk (needs root for mknod)", () => {
  let parent: string;
  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), "jail-skeleton-"));
  });
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  it("makes the tree once, root's and read-only to others, and finds it again by its plan", async () => {
    const plan = skeletonPlan(system, [{ path: "/dev/null", device: "1:3" }]);
    const dir = await ensureSkeleton(parent, plan);
    expect(readlinkSync(join(dir, "bin"))).toBe("usr/bin");
    const usr = lstatSync(join(dir, "usr"));
    expect([usr.isDirectory(), usr.uid, usr.mode & 0o777]).toEqual([true, 0, 0o755]);
    const nul = lstatSync(join(dir, "dev", "null"));
    expect([nul.isCharacterDevice(), nul.mode & 0o777]).toEqual([true, 0o666]);
    expect(lstatSync(join(dir, "etc", "ld.so.cache")).mode & 0o777).toBe(0o444);
    expect(readdirSync(join(dir, "in"))).toEqual([]);
    // The same plan: the same tree, not made again; no half-made tree left behind.
    expect(await ensureSkeleton(parent, plan)).toBe(dir);
    expect(readdirSync(parent)).toEqual([dir.slice(parent.length + 1)]);
    // Another plan (the host's system dirs changed): another tree.
    const other = await ensureSkeleton(parent, skeletonPlan(system.slice(0, 1), []));
    expect(other).not.toBe(dir);
  });
});
