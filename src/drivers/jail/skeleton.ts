/**
 * The part of every VM's filesystem view (jail-view.ts) that does not depend on the VM, prepared once
 * per host as a tree under /run/blixard: the system's merged-usr links, the base device nodes
 * (made with the host's numbers, 0666 as on the host), and empty mountpoints for the system dirs and
 * the loader's cache, and the inputs' directory. A VM's launcher copies it into its fresh tmpfs with one `cp -a`
 * instead of an exec per link and per device, which was half of what the view cost at every start.
 * The tree is root's and read-only to everyone else; its name carries a hash of its plan, so a host
 * whose system dirs change gets a new one, and it is made under a temporary name and renamed, so a
 * launcher never copies a half-made tree.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BASE_DEVICES, deviceNumbers, INPUTS_DIR, type SystemEntry } from "./jail-view.js";

export type SkeletonItem =
  | { type: "link"; path: string; target: string }
  | { type: "dir"; path: string }
  | { type: "file"; path: string }
  | { type: "chr"; path: string; device: string };

/** What the skeleton holds, for the host's system dirs and device numbers. Pure. */
export function skeletonPlan(
  system: SystemEntry[],
  devices: { path: string; device: string }[],
): SkeletonItem[] {
  const items: SkeletonItem[] = [];
  for (const sys of system) {
    if ("link" in sys) items.push({ type: "link", path: sys.path, target: sys.link });
    else items.push({ type: sys.kind, path: sys.path });
  }
  for (const device of devices) items.push({ type: "chr", path: device.path, device: device.device });
  // The inputs' placeholders are made per VM (a shell builtin), only for the inputs it has.
  items.push({ type: "dir", path: INPUTS_DIR });
  return items;
}

/** The host's base devices with their numbers. */
export async function baseDevices(): Promise<{ path: string; device: string }[]> {
  return Promise.all(
    BASE_DEVICES.map(async (path) => ({ path, device: deviceNumbers((await stat(path)).rdev) })),
  );
}

/** Makes the skeleton for `plan` under `parent` unless it is there already; returns its path. */
export async function ensureSkeleton(parent: string, plan: SkeletonItem[]): Promise<string> {
  const hash = createHash("sha256").update(JSON.stringify(plan)).digest("hex").slice(0, 16);
  const dir = join(parent, `jail-skeleton-${hash}`);
  if (
    await stat(dir).then(
      () => true,
      () => false,
    )
  )
    return dir;
  const temp = `${dir}.${process.pid}.partial`;
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp, { recursive: true, mode: 0o755 });
  for (const item of plan) {
    const path = join(temp, item.path);
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    if (item.type === "link") await symlink(item.target, path);
    else if (item.type === "dir") await mkdir(path, { recursive: true, mode: 0o755 });
    else if (item.type === "file") await writeFile(path, "", { mode: 0o444 });
    else {
      // Node has no mknod; the numbers come from the host's own nodes, not from any input.
      const [major = "", minor = ""] = item.device.split(":");
      const made = spawnSync("mknod", ["-m", "666", path, "c", major, minor], { encoding: "utf8" });
      if (made.status !== 0)
        throw new Error(`cannot make ${item.path} for the VM jail: ${made.stderr.trim()}`);
    }
  }
  try {
    await rename(temp, dir);
  } catch (err) {
    // Another node on this host made the same tree first.
    await rm(temp, { recursive: true, force: true });
    if (
      !(await stat(dir).then(
        () => true,
        () => false,
      ))
    )
      throw err;
  }
  return dir;
}
