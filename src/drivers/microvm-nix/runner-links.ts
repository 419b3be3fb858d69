/**
 * The `current` and `booted` links of a microvm-nix VM's state dir (microvm-paths.ts): replaced
 * atomically, as microvm.nix's units do with `ln -sTf`.
 */
import { readlink, rename, rm, symlink } from "node:fs/promises";

/** Points `link` at `target`, replacing what was there in one rename (as `ln -sTf` would, atomically). */
export async function relink(link: string, target: string): Promise<void> {
  const partial = `${link}.partial`;
  await rm(partial, { force: true });
  await symlink(target, partial);
  await rename(partial, link);
}

export async function isLink(path: string): Promise<boolean> {
  return readlink(path).then(
    () => true,
    () => false,
  );
}
