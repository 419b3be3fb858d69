/**
 * The build cache: a runner is rebuilt only when the content that goes into it changed. The key
 * hashes the flake directory Blixard wrote (flake.nix, blixard.nix, the copied modules, the inline
 * configuration) and, for a user's flake on this node's disk, that flake's whole tree. A remote
 * flake (github:, git+https:) counts by its reference: the lock file written at the first build pins
 * it, so it is not fetched again until the spec changes.
 */
import { createHash, type Hash } from "node:crypto";
import { lstat, readdir, readFile, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { writeJsonFileAtomically } from "../shared/record-file.js";

/** Files larger than this count by size and mtime, not content. */
const LARGE_FILE = 64 * 1024 * 1024;
/** A local flake with more entries than this is hashed by its first ones only (and the count). */
const MAX_ENTRIES = 50_000;

export interface BuildRecord {
  key: string;
  /** The store path `current` pointed to after the build. */
  runner: string;
}

/** The local directory of a flake reference, or undefined for a remote one. */
export function localFlakeDir(ref: string): string | undefined {
  const base = ref.split("#")[0]!.split("?")[0]!;
  if (base.startsWith("path:")) return base.slice("path:".length);
  if (base.startsWith("git+file://")) return base.slice("git+file://".length);
  if (base.startsWith("/")) return base;
  return undefined;
}

export async function buildKey(flakeDir: string, userFlake?: string): Promise<string> {
  const hash = createHash("sha256");
  // The lock file is nix's, written by the build itself; it pins inputs rather than choosing them.
  await hashTree(hash, flakeDir, "", new Set(["flake.lock"]), { left: MAX_ENTRIES });
  if (userFlake !== undefined) {
    hash.update(`\0user-flake\0${userFlake}\0`);
    const dir = localFlakeDir(userFlake);
    if (dir !== undefined) await hashTree(hash, dir, "", new Set([".git", "result"]), { left: MAX_ENTRIES });
  }
  return hash.digest("hex");
}

async function hashTree(
  hash: Hash,
  root: string,
  rel: string,
  skip: Set<string>,
  budget: { left: number },
): Promise<void> {
  let entries: string[];
  try {
    entries = (await readdir(join(root, rel))).sort();
  } catch (err) {
    hash.update(`\0unreadable\0${rel}\0${(err as NodeJS.ErrnoException).code ?? "?"}`);
    return;
  }
  for (const entry of entries) {
    if (rel === "" && skip.has(entry)) continue;
    if (--budget.left < 0) {
      hash.update(`\0truncated\0${entries.length}`);
      return;
    }
    const path = join(rel, entry);
    const full = join(root, path);
    const info = await lstat(full);
    if (info.isDirectory()) {
      hash.update(`\0dir\0${path}`);
      await hashTree(hash, root, path, skip, budget);
    } else if (info.isSymbolicLink()) {
      hash.update(`\0link\0${path}\0${await readlink(full)}`);
    } else if (info.isFile()) {
      hash.update(`\0file\0${path}\0${info.mode & 0o111 ? "x" : "-"}\0`);
      if (info.size > LARGE_FILE) hash.update(`${info.size}\0${info.mtimeMs}`);
      else hash.update(await readFile(full));
    }
  }
}

export async function readBuildRecord(file: string): Promise<BuildRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<BuildRecord>;
    return typeof parsed.key === "string" && typeof parsed.runner === "string"
      ? { key: parsed.key, runner: parsed.runner }
      : undefined;
  } catch {
    return undefined;
  }
}

export function writeBuildRecord(file: string, record: BuildRecord): Promise<void> {
  // Created afresh, never through a link: a jailed VM's uid owns the state dir.
  return writeJsonFileAtomically(file, record);
}

/** Whether `link` still resolves to the runner the record names (it was not replaced or collected). */
export async function cacheHit(record: BuildRecord | undefined, key: string, link: string): Promise<boolean> {
  if (record?.key !== key) return false;
  try {
    return (
      (await realpath(link)) === record.runner &&
      (await lstat(join(record.runner, "bin", "microvm-run"))) !== undefined
    );
  } catch {
    return false;
  }
}
