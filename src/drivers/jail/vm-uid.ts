/**
 * A uid of its own for every VM, so that one VM's qemu can neither read another VM's files nor signal
 * or ptrace another VM's processes. The uid is claimed host-wide (several nodes may share a host) by
 * an atomic symlink `<registry>/<uid> -> <state dir>`, and the state dir is owned by it, which is how
 * a VM keeps its uid across node restarts and reboots (the registry lives in /run).
 */
import { createHash } from "node:crypto";
import { mkdir, readlink, stat, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { BlixardError } from "../../core/errors.js";

/** The first uid handed to VMs; far above any login or system user, below 2^31. */
export const VM_UID_BASE = 2_000_000_000;
export const VM_UID_COUNT = 1 << 20;

/**
 * The group every jailed VM process has besides its own: the node's data dir and vms dir are
 * root:VM_GROUP 0710, so VM processes can pass through to their own state dir while other local users
 * cannot enter at all.
 */
export const VM_GROUP = VM_UID_BASE - 1;

export const DEFAULT_UID_REGISTRY = "/run/blixard/vm-uids";

export function inVmRange(uid: number): boolean {
  return uid >= VM_UID_BASE && uid < VM_UID_BASE + VM_UID_COUNT;
}

/** Where the search starts for a state dir: stable, so a VM tends to get the same uid again. */
export function preferredUid(stateDir: string): number {
  const hash = createHash("sha256").update(stateDir).digest().readUInt32BE(0);
  return VM_UID_BASE + (hash % VM_UID_COUNT);
}

async function ownerOf(dir: string): Promise<number | undefined> {
  try {
    return (await stat(dir)).uid;
  } catch {
    return undefined;
  }
}

/**
 * Claims `uid` for `stateDir`. A claim held by a state dir that no longer exists, or that another uid
 * now owns, is stale and taken over.
 */
async function tryClaim(registry: string, uid: number, stateDir: string): Promise<boolean> {
  const link = join(registry, String(uid));
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await symlink(stateDir, link);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: string;
    try {
      holder = await readlink(link);
    } catch {
      continue;
    }
    if (holder === stateDir) return true;
    if ((await ownerOf(holder)) === uid) return false;
    await unlink(link).catch(() => undefined);
  }
  return false;
}

/** The uid of the VM whose state dir is `stateDir`: the one it owns already if any, else a free one. */
export async function claimVmUid(stateDir: string, registry = DEFAULT_UID_REGISTRY): Promise<number> {
  await mkdir(registry, { recursive: true, mode: 0o700 });
  const owner = await ownerOf(stateDir);
  if (owner !== undefined && inVmRange(owner) && (await tryClaim(registry, owner, stateDir))) return owner;
  const start = preferredUid(stateDir) - VM_UID_BASE;
  for (let i = 0; i < 4096; i++) {
    const uid = VM_UID_BASE + ((start + i) % VM_UID_COUNT);
    if (await tryClaim(registry, uid, stateDir)) return uid;
  }
  throw new BlixardError("UNAVAILABLE", `no free VM uid near ${VM_UID_BASE + start}; remove unused VMs`);
}

/** Gives the uid back when the VM is removed. */
export async function releaseVmUid(
  stateDir: string,
  uid: number,
  registry = DEFAULT_UID_REGISTRY,
): Promise<void> {
  const link = join(registry, String(uid));
  try {
    if ((await readlink(link)) === stateDir) await unlink(link);
  } catch {}
}
