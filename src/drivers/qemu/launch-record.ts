/**
 * `vm.json`: what the driver launched, written right after the spawn. It lets a restarted agent find
 * the pid even after qemu deleted its own pidfile, and shows a human exactly which command ran.
 */
import { readFile, rename } from "node:fs/promises";
import type { VmSpec } from "../../core/vm-spec.js";
import { createFresh } from "../shared/no-follow.js";
import type { Accel } from "./accel.js";

export interface LaunchRecord {
  name: string;
  pid: number;
  startedAt: number;
  accel: Accel;
  qemuBinary: string;
  argv: string[];
  spec: VmSpec;
  /** The VM's passt (user networking), which the stop and the watchdog end with qemu. */
  passtPid?: number;
  /** Absent when the node runs VMs unjailed (`--isolation none`). */
  jail?: { uid: number; cgroups: string[]; command: string[] };
}

export async function writeLaunchRecord(file: string, record: LaunchRecord): Promise<void> {
  await writeRecordFile(file, record);
}

/** Any driver's launch record: JSON with at least `pid` and `startedAt`, written atomically, mode 0600. */
export async function writeRecordFile(
  file: string,
  record: { pid: number; startedAt: number },
): Promise<void> {
  // Write-then-rename: a crash mid-write must not leave a record that fails to parse.
  // Created afresh, never through a link: the state dir may belong to the VM's (hostile) uid.
  const partial = `${file}.partial`;
  const handle = await createFresh(partial);
  try {
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
  } finally {
    await handle.close();
  }
  await rename(partial, file);
}

/** The record, or undefined when the VM was never started (or the file is unreadable). */
export async function readLaunchRecord<R extends { pid: number; startedAt: number } = LaunchRecord>(
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

/** The pid qemu wrote to its pidfile, or undefined when there is none. */
export async function readPidfile(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, "utf8")).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
