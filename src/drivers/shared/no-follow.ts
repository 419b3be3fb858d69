/**
 * Opening files inside a VM's state dir as root without following links. Under the jail the state
 * dir belongs to the VM's uid, so a guest that takes over its qemu (or runner) can replace any name
 * in it with a symlink to a host file (`console.log -> /etc/shadow`) or a FIFO; the node must then
 * fail, never write to, truncate or read that file on the guest's behalf.
 */
import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { type FileHandle, open, rm } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

/** Append, create 0600, refuse a symlink; O_NONBLOCK so that a FIFO cannot hang the node. */
const APPEND = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK;

function notRegular(file: string): BlixardError {
  return new BlixardError(
    "FAILED_PRECONDITION",
    `${file} is not a regular file (a VM's process may have replaced it); remove it and retry`,
  );
}

function refused(file: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ELOOP" || code === "ENXIO" ? notRegular(file) : err;
}

/** A descriptor to append to `file`, for a child's stdout; the caller closes it. */
export function openAppendSync(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, APPEND, 0o600);
  } catch (err) {
    throw refused(file, err);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw notRegular(file);
  }
  return fd;
}

/** Appends `text` to `file`, as appendFile would, but never through a link. */
export async function appendNoFollow(file: string, text: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, APPEND, 0o600);
  } catch (err) {
    throw refused(file, err);
  }
  try {
    if (!(await handle.stat()).isFile()) throw notRegular(file);
    await handle.write(text);
  } finally {
    await handle.close();
  }
}

/** Opens an existing regular file for reading (`O_NOFOLLOW`), undefined when it does not exist. */
export async function openReadNoFollow(file: string): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw refused(file, err);
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw notRegular(file);
  }
  return handle;
}

/**
 * A new file at `file`, 0600, whatever was there removed first; `O_EXCL` makes the create fail rather
 * than follow a link put back in between.
 */
export async function createFresh(file: string): Promise<FileHandle> {
  await rm(file, { force: true });
  return open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
}
