/**
 * Letting jailed VM processes reach their state dirs: the data dir and its vms dir become
 * root:VM_GROUP mode 0710 (VM processes may pass through, not list; other local users still cannot
 * enter), and every directory above the data dir must be passable by anyone, or no jailed qemu could
 * open its own files.
 */
import { chmod, chown, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { VM_GROUP } from "./vm-uid.js";

/** The first ancestor of `dir` that others cannot pass through, if any. */
export async function closedAncestor(dir: string): Promise<string | undefined> {
  let current = dirname(resolve(dir));
  for (;;) {
    const info = await stat(current);
    if ((info.mode & 0o001) === 0) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

export async function openToVmGroup(dataDir: string, vmsDir: string): Promise<void> {
  for (const dir of [dataDir, vmsDir]) {
    await chown(dir, 0, VM_GROUP);
    await chmod(dir, 0o710);
  }
}
