/** Small file reads shared by the console log's readers and its rotation: a missing file is empty. */
import { type FileHandle, open, stat } from "node:fs/promises";

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

export async function openIfExists(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, "r");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}
