/** Small file reads shared by the console log's readers and its rotation: a missing file is empty. */
import { type FileHandle, stat } from "node:fs/promises";
import { openReadNoFollow } from "./no-follow.js";

/** Read size for log files: a large log is read a chunk at a time, never whole into memory. */
export const CHUNK = 64 * 1024;

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

/** Size in bytes, 0 when the file does not exist yet (the VM has not started). */
export async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if (isMissing(err)) return 0;
    throw err;
  }
}

/** Never through a link: a VM's uid must not make the node read (and `vm logs` show) a host file. */
export async function openIfExists(file: string): Promise<FileHandle | undefined> {
  return openReadNoFollow(file);
}
