/**
 * Rotation of a VM's console log by copytruncate. The writer (qemu's chardev with append=on, or the
 * microvm.nix runner's stdout) holds the log open with O_APPEND for the VM's whole life, so after a
 * truncate its next write lands at the new end, 0: rotation needs no signal to, or help from, the
 * writer. The newest bytes go to `console.log.1` (one copy kept), then the log is truncated.
 *
 * Rotations and follower reads of one log are serialised in this process (the node rotates, and
 * serves `vm logs -f`, itself), and each rotation bumps a generation that followers compare, because
 * a truncated log that has grown again past a follower's offset cannot be told apart by its size.
 */
import { constants } from "node:fs";
import { open, rename } from "node:fs/promises";
import { resolve } from "node:path";
import { KeyedLock } from "./keyed-lock.js";
import { CHUNK, fileSize, openIfExists } from "./log-files.js";
import { createFresh } from "./no-follow.js";

export interface Rotation {
  /** How many times this process has rotated the log. */
  generation: number;
  /** The offset in the log before the last rotation at which its copy starts. */
  start: number;
}

const locks = new KeyedLock();
const rotations = new Map<string, Rotation>();

export const rotatedFile = (file: string) => `${file}.1`;

// Keyed by absolute path: the rotator and a follower may name one log differently (a relative data dir).
export function rotationOf(file: string): Rotation {
  return rotations.get(resolve(file)) ?? { generation: 0, start: 0 };
}

export function withLogLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  return locks.run(resolve(file), fn);
}

/**
 * Copytruncate when the log has reached `maxBytes`: its newest `maxBytes` go to `<file>.1` (replacing
 * the previous copy), then the log is truncated, so the two hold less than 2 x maxBytes after every
 * check. Output the guest writes between the copy and the truncate is lost (copytruncate's window,
 * a few milliseconds). Returns whether it rotated.
 */
export async function rotateConsoleLog(file: string, maxBytes: number): Promise<boolean> {
  if ((await fileSize(file)) < maxBytes) return false;
  return withLogLock(file, async () => {
    const handle = await openIfExists(file);
    if (!handle) return false;
    const tmp = `${file}.1.tmp`;
    let start: number;
    try {
      const end = (await handle.stat()).size;
      if (end < maxBytes) return false;
      start = end - maxBytes;
      const out = await createFresh(tmp);
      try {
        // Up to `end` only: what the guest writes meanwhile stays in the log until the truncate.
        for (let position = start; position < end; ) {
          const buf = Buffer.alloc(Math.min(CHUNK, end - position));
          const { bytesRead } = await handle.read(buf, 0, buf.length, position);
          if (bytesRead === 0) break;
          await out.write(buf.subarray(0, bytesRead));
          position += bytesRead;
        }
      } finally {
        await out.close();
      }
    } finally {
      await handle.close();
    }
    await rename(tmp, rotatedFile(file));
    const log = await open(file, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      await log.truncate(0);
    } finally {
      await log.close();
    }
    rotations.set(resolve(file), { generation: rotationOf(file).generation + 1, start });
    return true;
  });
}
