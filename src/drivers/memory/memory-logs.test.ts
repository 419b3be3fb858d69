import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { readTail } from "../shared/console-log.js";
import { streamConsoleLog } from "../shared/console-log-stream.js";
import { streamOf, tailOf } from "./memory-logs.js";

const dir = mkdtempSync(join(tmpdir(), "blixard-memory-logs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the in-memory console log", () => {
  it("shows the same last N lines, and the same offset, as the real drivers' log file reader", async () => {
    const text = fc
      .array(fc.oneof(fc.constantFrom("\n", "\n\n", "é", "ready", " "), fc.string({ maxLength: 5 })), {
        maxLength: 12,
      })
      .map((parts) => parts.join(""));
    const lines = fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(text, lines, async (t, n) => {
        const file = join(dir, `console-${run++}.log`);
        writeFileSync(file, t);
        expect(tailOf(t, n)).toEqual(await readTail(file, n));
      }),
      { numRuns: 300 },
    );
  });

  it("streams the same chunks of at most the chunk size in bytes as the real drivers' stream", async () => {
    const text = fc
      .array(fc.oneof(fc.constantFrom("\n", "é", "€", "ready"), fc.string({ maxLength: 5 })), {
        maxLength: 12,
      })
      .map((parts) => parts.join(""));
    const lines = fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined });
    const chunkBytes = fc.integer({ min: 1, max: 9 });
    let run = 0;
    const read = async (chunks: AsyncIterable<string>) => {
      const all: string[] = [];
      for await (const chunk of chunks) all.push(chunk);
      return all;
    };
    await fc.assert(
      fc.asyncProperty(text, lines, chunkBytes, async (t, n, size) => {
        const file = join(dir, `stream-${run++}.log`);
        writeFileSync(file, t);
        const real = streamConsoleLog(file, n, size);
        const memory = streamOf(async () => tailOf(t, n), size);
        expect(await read(memory.chunks)).toEqual(await read(real.chunks));
        expect(memory.offset()).toBe(real.offset());
      }),
      { numRuns: 300 },
    );
  });
});
