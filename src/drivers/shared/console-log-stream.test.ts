import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readTail } from "./console-log.js";
import { streamConsoleLog } from "./console-log-stream.js";
import { rotateConsoleLog } from "./console-rotation.js";

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "blixard-log-stream-"));
  file = path.join(dir, "console.log");
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function collect(lines: number | undefined, chunkBytes: number) {
  const stream = streamConsoleLog(file, lines, chunkBytes);
  const chunks: string[] = [];
  for await (const chunk of stream.chunks) chunks.push(chunk);
  return { chunks, text: chunks.join(""), offset: stream.offset() };
}

// A character split between two reads is held back until complete: at most 3 bytes more than a read.
const MAX_HELD = 3;

describe("streamConsoleLog", () => {
  it("sends a log many times the chunk size whole and in order, no chunk larger than a read", async () => {
    const lines = Array.from({ length: 5_000 }, (_, i) => `line ${i} ${"é€😀".repeat(i % 5)}`);
    const content = `${lines.join("\n")}\n`;
    writeFileSync(file, content);
    const { chunks, text, offset } = await collect(undefined, 1000);
    expect(text).toBe(content);
    expect(offset).toBe(Buffer.byteLength(content));
    expect(chunks.length).toBeGreaterThan(Buffer.byteLength(content) / (1000 + MAX_HELD));
    for (const chunk of chunks) expect(Buffer.byteLength(chunk)).toBeLessThanOrEqual(1000 + MAX_HELD);
  });

  it("reaches back into the rotated copy, in order, for all lines or a tail longer than the log", async () => {
    writeFileSync(file, "old 1\nold 2\nold 3\n");
    await rotateConsoleLog(file, 18); // all 18 bytes go to console.log.1
    writeFileSync(file, "new 1\nnew 2");
    expect((await collect(undefined, 4)).text).toBe("old 1\nold 2\nold 3\nnew 1\nnew 2");
    expect((await collect(3, 4)).text).toBe("old 3\nnew 1\nnew 2");
    expect((await collect(2, 4)).text).toBe("new 1\nnew 2");
    expect((await collect(0, 4)).text).toBe("");
    expect((await collect(0, 4)).offset).toBe(Buffer.byteLength("new 1\nnew 2"));
  });

  it("gives exactly what readTail gives, for any log, rotated copy, tail and chunk size", async () => {
    const line = fc.stringMatching(/^[a-zé😀 ]{0,12}$/u);
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 12 }),
        fc.array(line, { maxLength: 12 }),
        fc.boolean(),
        fc.option(fc.nat(30), { nil: undefined }),
        fc.integer({ min: 1, max: 17 }),
        async (older, current, finalNewline, tail, chunkBytes) => {
          rmSync(`${file}.1`, { force: true });
          if (older.length > 0) {
            const text = `${older.join("\n")}\n`;
            writeFileSync(file, text);
            await rotateConsoleLog(file, Buffer.byteLength(text));
          }
          writeFileSync(file, current.join("\n") + (finalNewline && current.length > 0 ? "\n" : ""));
          const expected = await readTail(file, tail);
          const got = await collect(tail, chunkBytes);
          expect(got.text).toBe(expected.text);
          expect(got.offset).toBe(expected.offset);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps its place when the log is rotated while it is being read: nothing twice, nothing lost", async () => {
    const content = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join("");
    writeFileSync(file, content);
    const stream = streamConsoleLog(file, undefined, 100);
    const chunks: string[] = [];
    for await (const chunk of stream.chunks) {
      chunks.push(chunk);
      // After the first chunk, the whole log moves to console.log.1 and the log is truncated; the
      // guest then writes more, which the stream (the log as it was asked for) does not include.
      if (chunks.length === 1) {
        await rotateConsoleLog(file, Buffer.byteLength(content));
        writeFileSync(file, "written after the request\n");
      }
    }
    expect(chunks.join("")).toBe(content);
    expect(stream.offset()).toBe(Buffer.byteLength(content));
  });

  it("treats a missing log as empty", async () => {
    expect(await collect(undefined, 10)).toEqual({ chunks: [], text: "", offset: 0 });
  });

  it("refuses a console log that a guest replaced with a link to a host file, showing none of it", async () => {
    const secret = path.join(dir, "shadow");
    writeFileSync(secret, "root:$6$secret-hash:19000:0:99999:7:::\n");
    symlinkSync(secret, file);
    const attempt = collect(undefined, 64);
    await expect(attempt).rejects.toThrow(/not a regular file/);
  });
});
