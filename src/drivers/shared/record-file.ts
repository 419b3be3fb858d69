/**
 * A VM's launch record (`vm.json`) and pidfile as every driver reads them: JSON with at least the
 * pid and the start time, written right after the spawn. They let a restarted agent (and the node's
 * watchdog) find the VM's process after the one that spawned it is gone.
 */
import { readFile, rename } from "node:fs/promises";
import { createFresh } from "./no-follow.js";

/** What every driver's launch record holds; each adds its own fields. */
export interface BaseLaunchRecord {
  pid: number;
  startedAt: number;
  /** The VM's passt (user networking), which the stop and the watchdog end with the VM. */
  passtPid?: number;
}

/** Any driver's launch record, written atomically, mode 0600. */
export function writeRecordFile(file: string, record: BaseLaunchRecord): Promise<void> {
  return writeJsonFileAtomically(file, record);
}

/** A JSON file in a VM's state dir, written atomically, mode 0600. */
export async function writeJsonFileAtomically(file: string, value: unknown): Promise<void> {
  // Write-then-rename: a crash mid-write must not leave a record that fails to parse.
  // Created afresh, never through a link: the state dir may belong to the VM's (hostile) uid.
  const partial = `${file}.partial`;
  const handle = await createFresh(partial);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
  } finally {
    await handle.close();
  }
  await rename(partial, file);
}

/** The record, or undefined when the VM was never started (or the file is unreadable). */
export async function readRecordFile<R extends BaseLaunchRecord = BaseLaunchRecord>(
  file: string,
): Promise<R | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<R>;
    if (typeof parsed.pid !== "number" || typeof parsed.startedAt !== "number") return undefined;
    return parsed as R;
  } catch {
    return undefined;
  }
}

/** The pid a hypervisor wrote to its pidfile, or undefined when there is none. */
export async function readPidfile(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, "utf8")).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
