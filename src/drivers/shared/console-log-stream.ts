/**
 * A VM's console log as it is when asked, read a bounded chunk at a time: `vm logs` streams it rather
 * than loading up to twice the rotation size (the log and its rotated copy) into one reply, so the
 * node's memory per request is one chunk whatever the log's size.
 *
 * Where the requested lines start is found by scanning backwards, keeping only counts; the rotated
 * copy (`console.log.1`) is opened at once, and stays readable through its descriptor even when a
 * later rotation renames a new copy over it. The log itself is truncated in place by a rotation
 * (console-rotation.ts), so each chunk of it is read under the rotation lock: if a rotation came in
 * between, the rest of what was asked is in the new copy, at the offset the rotation records.
 */
import type { FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { LogStream } from "../../ports/vm-driver.js";
import { rotatedFile, rotationOf, withLogLock } from "./console-rotation.js";
import { openIfExists } from "./log-files.js";

/** Bytes of the log read (and sent) per chunk. */
export const LOG_STREAM_CHUNK = 64 * 1024;

/** A byte range of an open file; `end` is exclusive. */
interface Range {
  handle: FileHandle;
  start: number;
  end: number;
}

/** The last `lines` lines of `file` (all of it when undefined), reaching back into its rotated copy. */
export function streamConsoleLog(
  file: string,
  lines: number | undefined,
  chunkBytes = LOG_STREAM_CHUNK,
): LogStream {
  let size = 0;
  async function* chunks(): AsyncGenerator<string> {
    const opened: FileHandle[] = [];
    try {
      const plan = await withLogLock(file, async () => {
        const current = await openIfExists(file);
        if (current) opened.push(current);
        const generation = rotationOf(file).generation;
        const end = current ? (await current.stat()).size : 0;
        size = end;
        if (lines !== undefined && lines <= 0) return undefined;
        const found = current
          ? await startOfLastLines(current, end, lines, chunkBytes)
          : { start: 0, lines: 0 };
        const more = lines === undefined ? undefined : lines - found.lines;
        let older: Range | undefined;
        if (more === undefined || more > 0) {
          const copy = await openIfExists(rotatedFile(file));
          if (copy) {
            opened.push(copy);
            const copyEnd = (await copy.stat()).size;
            older = {
              handle: copy,
              start: (await startOfLastLines(copy, copyEnd, more, chunkBytes)).start,
              end: copyEnd,
            };
          }
        }
        return {
          older,
          current: current ? { handle: current, start: found.start, end } : undefined,
          generation,
        };
      });
      if (!plan) return;
      const decoder = new StringDecoder("utf8");
      if (plan.older) {
        for await (const bytes of readRange(plan.older, chunkBytes)) {
          const text = decoder.write(bytes);
          if (text) yield text;
        }
      }
      if (plan.current) {
        for await (const bytes of readLog(file, plan.current, plan.generation, chunkBytes, opened)) {
          const text = decoder.write(bytes);
          if (text) yield text;
        }
      }
      const rest = decoder.end();
      if (rest) yield rest;
    } finally {
      for (const handle of opened) await handle.close();
    }
  }
  return { chunks: chunks(), offset: () => size };
}

/**
 * Where the last `lines` lines of the first `end` bytes start, and how many lines that is (fewer
 * when the file holds fewer). A final newline ends the last line rather than starting an empty one.
 */
async function startOfLastLines(
  handle: FileHandle,
  end: number,
  lines: number | undefined,
  chunkBytes: number,
): Promise<{ start: number; lines: number }> {
  // All of it: no need to read it to count (the caller reads it all anyway).
  if (end === 0 || lines === undefined) return { start: 0, lines: 0 };
  let newlines = 0;
  const buf = Buffer.alloc(Math.min(chunkBytes, end));
  for (let position = end; position > 0; ) {
    const length = Math.min(buf.length, position);
    position -= length;
    const { bytesRead } = await handle.read(buf, 0, length, position);
    const scanEnd = position + bytesRead === end ? bytesRead - 1 : bytesRead;
    for (let i = scanEnd - 1; i >= 0; i--) {
      if (buf[i] === 0x0a && ++newlines === lines) return { start: position + i + 1, lines };
    }
  }
  // The whole file: its newlines before the last byte, plus the last line.
  return { start: 0, lines: newlines + 1 };
}

async function* readRange(range: Range, chunkBytes: number): AsyncGenerator<Buffer> {
  for (let position = range.start; position < range.end; ) {
    const buf = Buffer.alloc(Math.min(chunkBytes, range.end - position));
    const { bytesRead } = await range.handle.read(buf, 0, buf.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/**
 * The log's range, a chunk per lock hold, so a slow reader never holds up a rotation. After one
 * rotation the unread rest is in the new copy, which starts at the old log's offset `rotation.start`
 * (bytes before that were dropped by the rotation); after more than one, it is gone.
 */
async function* readLog(
  file: string,
  log: Range,
  generation: number,
  chunkBytes: number,
  opened: FileHandle[],
): AsyncGenerator<Buffer> {
  let range = log;
  let position = range.start;
  while (position < range.end) {
    const next = await withLogLock(file, async (): Promise<Buffer | "moved" | "gone"> => {
      const rotation = rotationOf(file);
      if (rotation.generation === generation) {
        const buf = Buffer.alloc(Math.min(chunkBytes, range.end - position));
        const { bytesRead } = await range.handle.read(buf, 0, buf.length, position);
        return bytesRead === 0 ? "gone" : buf.subarray(0, bytesRead);
      }
      if (rotation.generation !== generation + 1) return "gone";
      const copy = await openIfExists(rotatedFile(file));
      if (!copy) return "gone";
      opened.push(copy);
      position = Math.max(position, rotation.start);
      range = { handle: copy, start: position - rotation.start, end: range.end - rotation.start };
      return "moved";
    });
    if (next === "gone") return;
    if (next === "moved") {
      yield* readRange(range, chunkBytes);
      return;
    }
    position += next.length;
    yield next;
  }
}
