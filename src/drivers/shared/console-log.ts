/**
 * Reading a VM's serial console log, which its process (qemu, a microvm.nix runner) appends to for
 * the VM's whole life (and across restarts). Reads are bounded so that a large log never has to fit
 * in memory to show its tail.
 * The log is rotated by copytruncate (console-rotation.ts); a follower picks up across a rotation.
 */
import { StringDecoder } from "node:string_decoder";
import type { Clock } from "../../ports/clock.js";
import { rotatedFile, rotationOf, withLogLock } from "./console-rotation.js";
import { CHUNK, fileSize, openIfExists } from "./log-files.js";

// Re-exported: the drivers ask the console log's size from here.
export { fileSize };

export interface Tail {
  text: string;
  /** Bytes of the file the text reaches to: following from here neither repeats nor skips output. */
  offset: number;
}

/**
 * The last `lines` lines of the log (all of it when undefined), reaching back into the rotated copy
 * when the log itself holds fewer since its last rotation: at most twice the rotation size is read;
 * "" when there is no log yet. The offset is the log's size, to follow from.
 */
export async function readTail(file: string, lines?: number): Promise<Tail> {
  // Under the rotation lock: a rotation between the two reads would show a stretch twice or not at all.
  return withLogLock(file, async () => {
    const current = await lastLines(file, lines);
    if (lines !== undefined && lines <= 0) return { text: "", offset: current.size };
    const more = lines === undefined ? undefined : lines - current.lines;
    const older =
      more === undefined || more > 0 ? (await lastLines(rotatedFile(file), more)).bytes : Buffer.alloc(0);
    // Cutting just after a newline byte never splits a UTF-8 character.
    return { text: Buffer.concat([older, current.bytes]).toString("utf8"), offset: current.size };
  });
}

interface LastLines {
  bytes: Buffer;
  /** How many lines `bytes` holds (a final line without a newline counts). */
  lines: number;
  size: number;
}

/** The last `lines` lines of one file (all when undefined), read backwards a chunk at a time. */
async function lastLines(file: string, lines: number | undefined): Promise<LastLines> {
  const handle = await openIfExists(file);
  if (!handle) return { bytes: Buffer.alloc(0), lines: 0, size: 0 };
  try {
    const size = (await handle.stat()).size;
    if (lines !== undefined && lines <= 0) return { bytes: Buffer.alloc(0), lines: 0, size };
    // A final newline ends the last line rather than starting an empty one, so it is not counted.
    const chunks: Buffer[] = [];
    let position = size;
    let newlines = 0;
    while (position > 0) {
      const length = Math.min(CHUNK, position);
      position -= length;
      const buf = Buffer.alloc(length);
      await handle.read(buf, 0, length, position);
      chunks.unshift(buf);
      if (lines === undefined) continue;
      const scanEnd = position + length === size ? length - 1 : length;
      for (let i = scanEnd - 1; i >= 0; i--) {
        if (buf[i] === 0x0a && ++newlines === lines) {
          chunks[0] = buf.subarray(i + 1);
          return { bytes: Buffer.concat(chunks), lines, size };
        }
      }
    }
    const bytes = Buffer.concat(chunks);
    return { bytes, lines: size === 0 ? 0 : countLines(bytes), size };
  } finally {
    await handle.close();
  }
}

function countLines(bytes: Buffer): number {
  let n = 0;
  for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0x0a) n++;
  return n + 1;
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
 * characters split across polls are held back until complete. A rotation (console-rotation.ts) is
 * seen by its generation, not by the size (the new log may already be longer than the old offset):
 * what was written after `offset` before it comes from the rotated copy, then the new log from its
 * start. If the file shrinks otherwise (the VM was removed and recreated), following restarts from
 * its beginning. Reads hold the log's rotation lock, so a rotation never lands mid-read.
 */
export async function* followFile(
  file: string,
  offset: number,
  signal: AbortSignal,
  clock: Clock,
  intervalMs = 200,
): AsyncGenerator<string> {
  let position = offset;
  let seen = rotationOf(file);
  let decoder = new StringDecoder("utf8");
  while (!signal.aborted) {
    const texts = await withLogLock(file, async () => {
      const out: string[] = [];
      const now = rotationOf(file);
      if (now.generation !== seen.generation) {
        // One rotation since: the copy starts at now.start of the log this follower was reading.
        // More than one: this follower missed whole copies; the last one is all there is.
        const from = now.generation === seen.generation + 1 ? Math.max(0, position - now.start) : 0;
        out.push(decoder.write(await readFrom(rotatedFile(file), from)) + decoder.end());
        position = 0;
        seen = now;
        decoder = new StringDecoder("utf8");
      }
      const size = await fileSize(file);
      if (size < position) {
        position = 0;
        decoder = new StringDecoder("utf8");
      }
      if (size > position) {
        const length = Math.min(FOLLOW_READ, size - position);
        const bytes = await readFrom(file, position, length);
        position += bytes.length;
        out.push(decoder.write(bytes));
      }
      return out.filter((t) => t !== "");
    });
    for (const text of texts) yield text;
    if (texts.length > 0) continue;
    try {
      await clock.sleep(intervalMs, signal);
    } catch {
      return;
    }
  }
}

/** At most this much is read per lock hold, so a follower far behind does not hold up a rotation. */
const FOLLOW_READ = 4 * CHUNK;

/** `length` bytes (or to the end) from `position`; empty when the file does not exist. */
async function readFrom(file: string, position: number, length?: number): Promise<Buffer> {
  const handle = await openIfExists(file);
  if (!handle) return Buffer.alloc(0);
  try {
    const size = (await handle.stat()).size;
    const buf = Buffer.alloc(Math.max(0, Math.min(length ?? size, size - position)));
    const { bytesRead } = await handle.read(buf, 0, buf.length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
