/**
 * What `blixard vm logs` does. Always a stream: the node sends the requested lines a bounded chunk at
 * a time (then, with -f, new output as it comes), and each chunk is written out before the next is
 * read, waiting while stdout is full, so the CLI holds one chunk whatever the log's size. On a
 * terminal each chunk goes through one stateful sanitizer, which keeps an escape sequence that spans
 * two chunks from slipping through (terminal-safe.ts).
 */
import { once } from "node:events";
import { vmClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
import { consoleOutput } from "./terminal-safe.js";
import { UsageError } from "./usage-error.js";

export interface LogsFlags {
  follow?: boolean;
  tail: string;
  raw?: boolean;
}

export async function vmLogs(options: GlobalOptions, name: string, flags: LogsFlags): Promise<void> {
  const tail = flags.tail === "all" ? 0 : Number(flags.tail);
  if (!Number.isInteger(tail) || tail < 0)
    throw new UsageError(`--tail must be a whole number or all (got "${flags.tail}")`);
  // A guest is hostile: its escape sequences must not reach the user's terminal (terminal-safe.ts).
  const out = consoleOutput({ tty: process.stdout.isTTY === true, raw: flags.raw === true });
  const abort = new AbortController();
  if (flags.follow) process.once("SIGINT", () => abort.abort());
  const request = { name, tail, stopAtEnd: !flags.follow };
  try {
    await writeAll(vmClient(options).followVmLogs(request, { signal: abort.signal }), out);
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
}

/** Writes each chunk as it arrives, waiting for `stream` to drain when it is full. */
export async function writeAll(
  chunks: AsyncIterable<{ text: string }>,
  out: (chunk: string) => string,
  stream: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  for await (const { text } of chunks) {
    const safe = out(text);
    if (safe !== "" && !stream.write(safe)) await once(stream, "drain");
  }
}
