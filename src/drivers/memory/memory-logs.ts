/**
 * The console log of an in-memory VM, read as the real drivers read a log file: offsets and chunk
 * sizes in bytes (a multi-byte character counts as its bytes), the last N lines where a final line
 * without a newline counts, and a follower that polls on the injected clock.
 */
import { StringDecoder } from "node:string_decoder";
import type { Clock } from "../../ports/clock.js";
import type { LogStream, LogTail } from "../../ports/vm-driver.js";

/** How often a follower looks for new output; the qemu driver's follower polls too. */
const FOLLOW_POLL_MS = 100;

/** The last `lines` lines of `text` (all when undefined), and its size in bytes to follow from. */
export function tailOf(text: string, lines?: number): LogTail {
  const offset = Buffer.byteLength(text);
  if (lines === undefined) return { text, offset };
  if (lines <= 0) return { text: "", offset };
  const all = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  return { text: all.slice(Math.max(0, all.length - lines)).join(""), offset };
}

/** `tail()` read when the stream begins and cut into chunks of at most `chunkBytes` bytes. */
export function streamOf(tail: () => Promise<LogTail>, chunkBytes: number): LogStream {
  let offset = 0;
  async function* chunks(): AsyncGenerator<string> {
    const all = await tail();
    offset = all.offset;
    const bytes = Buffer.from(all.text);
    const decoder = new StringDecoder("utf8");
    for (let i = 0; i < bytes.length; i += chunkBytes) {
      const text = decoder.write(bytes.subarray(i, i + chunkBytes));
      if (text !== "") yield text;
    }
    const rest = decoder.end();
    if (rest !== "") yield rest;
  }
  return { chunks: chunks(), offset: () => offset };
}

/** Output appended past byte `offset`, until aborted. */
export async function* followOf(
  read: () => string,
  offset: number,
  signal: AbortSignal,
  clock: Clock,
): AsyncIterable<string> {
  let position = offset;
  const decoder = new StringDecoder("utf8");
  while (!signal.aborted) {
    const bytes = Buffer.from(read());
    if (bytes.length > position) {
      const text = decoder.write(bytes.subarray(position));
      position = bytes.length;
      if (text !== "") yield text;
    }
    await clock.sleep(FOLLOW_POLL_MS, signal).catch(() => undefined);
  }
}
