/**
 * dnsmasq's data-file directories (/run/blixard-dnsmasq/<id>) outlive a node that was killed or whose
 * data dir was deleted (tests do both). Each names the dnsmasq directory it serves in an `owner` file;
 * a node's dnsmasq, when it starts, removes those whose owner directory is gone. A directory whose
 * owner exists is kept: that node may be running, and if it is not, its next start rewrites it.
 */
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";

export const OWNER_FILE = "owner";
const ID = /^[0-9a-f]{16}$/;

/** Removes the leftovers under `root`; returns the ids it removed. */
export async function sweepHostsDirs(root: string): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(root).catch(() => [] as string[]);
  for (const id of entries.filter((e) => ID.test(e))) {
    const owner = (await readFile(join(root, id, OWNER_FILE), "utf8").catch(() => "")).trim();
    // No owner recorded (written by an older version, or cut short): left alone rather than guessed at.
    if (owner === "") continue;
    const exists = await stat(owner).then(
      () => true,
      (err: NodeJS.ErrnoException) => err.code !== "ENOENT",
    );
    if (exists) continue;
    await rm(join(root, id), { recursive: true, force: true });
    removed.push(id);
  }
  return removed;
}
