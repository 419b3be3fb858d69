/**
 * Reading the serial console log, which qemu appends to for the VM's whole life (and across
 * restarts). Reads are bounded so that a large log never has to fit in memory to show its tail.
 */
import { type FileHandle, open, stat } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { Clock } from "../../ports/clock.js";

const CHUNK = 64 * 1024;

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

async function openIfExists(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, "r");
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export interface Tail {
  text: string;
  /** Bytes of the file the text reaches to: following from here neither repeats nor skips output. */
  offset: number;
}

/** The last `lines` lines of the file (all of it when undefined); "" when it does not exist. */
export async function readTail(file: string, lines?: number): Promise<Tail> {
  const handle = await openIfExists(file);
  if (!handle) return { text: "", offset: 0 };
  try {
    const size = (await handle.stat()).size;
    if (lines === undefined) {
      const all = Buffer.alloc(size);
      const { bytesRead } = await handle.read(all, 0, size, 0);
      return { text: all.subarray(0, bytesRead).toString("utf8"), offset: bytesRead };
    }
    if (lines <= 0 || size === 0) return { text: "", offset: size };
    // Walk back from the end a chunk at a time until enough newlines are seen. A final newline ends
    // the last line rather than starting an empty one, so it is not counted.
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    let start = 0;
    while (position > 0) {
      const length = Math.min(CHUNK, position);
      position -= length;
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, position);
      chunks.unshift(buf);
      const scanEnd = position + length === size ? length - 1 : length;
      let cut = -1;
      for (let i = scanEnd - 1; i >= 0; i--) {
        if (buf[i] === 0x0a && ++newlines === lines) {
          cut = i + 1;
          break;
        }
      }
      if (cut >= 0) {
        start = cut;
        break;
      }
    }
    // Cutting just after a newline byte never splits a UTF-8 character.
    return { text: Buffer.concat(chunks).subarray(start).toString("utf8"), offset: size };
  } finally {
    await handle.close();
  }
}

/** At most the last `maxBytes` of what was written after `offset` (e.g. this start's qemu errors). */
export async function readSince(file: string, offset: number, maxBytes: number): Promise<string> {
  const handle = await openIfExists(file);
  if (!handle) return "";
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(offset, size - maxBytes, 0);
    const buf = Buffer.alloc(Math.max(0, size - start));
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await handle.close();
  }
}

/**
 * Yields text appended after `offset`, polling every `intervalMs`, until `signal` aborts. Multi-byte
 * characters split across polls are held back until complete. If the file shrinks (the VM was
 * removed and recreated), following restarts from its beginning.
 */
export async function* followFile(
  file: string,
  offset: number,
  signal: AbortSignal,
  clock: Clock,
  intervalMs = 200,
): AsyncGenerator<string> {
  let position = offset;
  let decoder = new StringDecoder("utf8");
  while (!signal.aborted) {
    const size = await fileSize(file);
    if (size < position) {
      position = 0;
      decoder = new StringDecoder("utf8");
    }
    if (size > position) {
      const handle = await openIfExists(file);
      if (handle) {
        try {
          while (position < size && !signal.aborted) {
            const buf = Buffer.alloc(Math.min(CHUNK, size - position));
            const { bytesRead } = await handle.read(buf, 0, buf.length, position);
            if (bytesRead === 0) break;
            position += bytesRead;
            const text = decoder.write(buf.subarray(0, bytesRead));
            if (text !== "") yield text;
          }
        } finally {
          await handle.close();
        }
        continue;
      }
    }
    try {
      await clock.sleep(intervalMs, signal);
    } catch {
      return;
    }
  }
}
