/**
 * Quarantine for VM state dirs that are no longer wanted on this node but were not deleted by anyone
 * (an orphan: its record is gone or assigned elsewhere, e.g. after a failover). Such a dir may hold the
 * only copy of a guest's writes (its qcow2 overlay), so it is moved aside to
 * `<data-dir>/quarantine/<name>-<time>/` with a note saying why, never `rm -rf`ed by surprise; only
 * `blixard node quarantine delete` removes it. The quarantine dir sits next to `vms/` in the same data
 * dir, so the move is a rename on one file system: atomic, and instant whatever the disk's size.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { BlixardError } from "../../core/errors.js";

export const QUARANTINE_NOTE = "quarantine.json";

export interface QuarantineNote {
  vm: string;
  /** ISO time it was moved here. */
  at: string;
  reason: string;
  /** Where it was. */
  from: string;
}

export interface QuarantinedDir extends QuarantineNote {
  /** Its directory name in the quarantine dir: what `quarantine delete` takes. */
  entry: string;
  path: string;
  bytes: number;
}

/** `<data-dir>/quarantine`, beside `<data-dir>/vms`. */
export function quarantineDirFor(vmsDir: string): string {
  return path.join(path.dirname(path.resolve(vmsDir)), "quarantine");
}

/** Moves `stateDir` into the quarantine dir; returns where it went. */
export async function quarantineStateDir(
  stateDir: string,
  quarantineDir: string,
  vm: string,
  atMs: number,
  reason: string,
): Promise<string> {
  await mkdir(quarantineDir, { recursive: true, mode: 0o700 });
  const stamp = new Date(atMs).toISOString().replace(/[:.]/g, "-");
  for (let n = 0; ; n++) {
    const target = path.join(quarantineDir, `${vm}-${stamp}${n === 0 ? "" : `-${n}`}`);
    try {
      // rename(2) onto an existing non-empty directory fails (ENOTEMPTY/EEXIST): never merges two.
      await mkdir(target, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && n < 100) continue;
      throw err;
    }
    const dest = path.join(target, "state");
    await rename(stateDir, dest);
    const note: QuarantineNote = { vm, at: new Date(atMs).toISOString(), reason, from: stateDir };
    await writeFile(path.join(target, QUARANTINE_NOTE), `${JSON.stringify(note, null, 2)}\n`, {
      mode: 0o600,
    });
    return target;
  }
}

/** What is in quarantine, oldest first. */
export async function listQuarantine(quarantineDir: string): Promise<QuarantinedDir[]> {
  let entries: string[];
  try {
    entries = await readdir(quarantineDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const found: QuarantinedDir[] = [];
  for (const entry of entries) {
    const dir = path.join(quarantineDir, entry);
    const note = await readNote(dir);
    found.push({
      entry,
      path: dir,
      bytes: await diskUsage(dir),
      vm: note?.vm ?? entry,
      at: note?.at ?? "",
      reason: note?.reason ?? "(no quarantine note)",
      from: note?.from ?? "",
    });
  }
  return found.sort((a, b) => a.at.localeCompare(b.at) || a.entry.localeCompare(b.entry));
}

/** Deletes one quarantined dir for good. `entry` must name a dir directly inside the quarantine dir. */
export async function deleteQuarantined(quarantineDir: string, entry: string): Promise<void> {
  const root = path.resolve(quarantineDir);
  const dir = path.resolve(root, entry);
  if (entry === "" || path.dirname(dir) !== root) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `${JSON.stringify(entry)} is not an entry of ${root}; pass a name that \`blixard node quarantine list\` shows`,
    );
  }
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new BlixardError(
      "NOT_FOUND",
      `nothing named ${entry} in quarantine (${root}); see \`blixard node quarantine list\``,
    );
  }
  await rm(dir, { recursive: true, force: true });
}

async function readNote(dir: string): Promise<QuarantineNote | undefined> {
  try {
    const parsed = JSON.parse(
      await readFile(path.join(dir, QUARANTINE_NOTE), "utf8"),
    ) as Partial<QuarantineNote>;
    if (typeof parsed.vm !== "string" || typeof parsed.at !== "string") return undefined;
    return {
      vm: parsed.vm,
      at: parsed.at,
      reason: typeof parsed.reason === "string" ? parsed.reason : "",
      from: typeof parsed.from === "string" ? parsed.from : "",
    };
  } catch {
    return undefined;
  }
}

/** Bytes the files under `dir` occupy on disk (sparse qcow2 overlays count what they use). */
async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await diskUsage(p);
    else if (e.isFile()) total += ((await stat(p).catch(() => undefined))?.blocks ?? 0) * 512;
  }
  return total;
}
