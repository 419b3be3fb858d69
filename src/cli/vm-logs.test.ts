import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { consoleOutput } from "./terminal-safe.js";
import { writeAll } from "./vm-logs.js";

/** A stdout that takes one write, then reports itself full until `drain()`. */
class SlowStdout extends EventEmitter {
  readonly written: string[] = [];
  write(text: string): boolean {
    this.written.push(text);
    return false;
  }
  drain(): void {
    this.emit("drain");
  }
}

async function* chunksOf(texts: string[], pulled: number[]) {
  for (const [i, text] of texts.entries()) {
    pulled.push(i);
    yield { text };
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("vm logs output", () => {
  it("strips an escape sequence a guest split across two chunks (a window retitle) on a terminal", async () => {
    const out = new SlowStdout();
    const done = writeAll(
      chunksOf(["boot ok\x1b]0;pwn", "ed\x07 login:\n"], []),
      consoleOutput({ tty: true, raw: false }),
      out as unknown as NodeJS.WritableStream,
    );
    for (let i = 0; i < 4; i++) {
      await tick();
      out.drain();
    }
    await done;
    expect(out.written.join("")).toBe("boot ok login:\n");
  });

  it("reads the next chunk only once stdout has taken the last one, so the CLI holds one chunk", async () => {
    const out = new SlowStdout();
    const pulled: number[] = [];
    const done = writeAll(
      chunksOf(["one\n", "two\n", "three\n"], pulled),
      (text) => text,
      out as unknown as NodeJS.WritableStream,
    );
    await tick();
    expect(pulled).toEqual([0]);
    expect(out.written).toEqual(["one\n"]);
    out.drain();
    await tick();
    expect(pulled).toEqual([0, 1]);
    out.drain();
    await tick();
    out.drain();
    await done;
    expect(out.written).toEqual(["one\n", "two\n", "three\n"]);
  });
});
