import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../platform/system-clock.js";
import { fileSize, followFile, readTail } from "./console-log.js";

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "blixard-console-"));
  file = path.join(dir, "console.log");
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("readTail", () => {
  it("returns the last lines, with or without a final newline", async () => {
    writeFileSync(file, "one\ntwo\nthree\n");
    expect((await readTail(file, 2)).text).toBe("two\nthree\n");
    expect((await readTail(file, 5)).text).toBe("one\ntwo\nthree\n");
    expect((await readTail(file)).text).toBe("one\ntwo\nthree\n");
    writeFileSync(file, "one\ntwo\nthree");
    expect((await readTail(file, 1)).text).toBe("three");
    expect((await readTail(file, 0)).text).toBe("");
  });

  it("finds lines across chunk boundaries in a large log", async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"é".repeat(i % 7)}`);
    writeFileSync(file, `${lines.join("\n")}\n`);
    expect((await readTail(file, 3)).text).toBe(`${lines.slice(-3).join("\n")}\n`);
    expect((await readTail(file, 15_000)).text).toBe(`${lines.slice(-15_000).join("\n")}\n`);
  });

  it("treats a missing log as empty", async () => {
    expect((await readTail(file, 10)).text).toBe("");
    expect(await fileSize(file)).toBe(0);
  });
});

describe("followFile", () => {
  it("yields text appended after the offset until aborted, holding back split characters", async () => {
    writeFileSync(file, "old\n");
    const controller = new AbortController();
    const seen: string[] = [];
    // Taken before anything is appended, so the follower's start does not race the writes below.
    const offset = await fileSize(file);
    const done = (async () => {
      for await (const text of followFile(file, offset, controller.signal, systemClock, 10)) {
        seen.push(text);
        if (seen.join("").includes("READY")) controller.abort();
      }
    })();
    const euro = Buffer.from("€");
    appendFileSync(file, Buffer.concat([Buffer.from("boot "), euro.subarray(0, 1)]));
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(file, Buffer.concat([euro.subarray(1), Buffer.from(" READY\n")]));
    await done;
    expect(seen.join("")).toBe("boot € READY\n");
  });

  it("ends promptly when aborted while waiting for output", async () => {
    const controller = new AbortController();
    const iterator = followFile(file, 0, controller.signal, systemClock, 10_000);
    setTimeout(() => controller.abort(), 20);
    const result = await iterator.next();
    expect(result.done).toBe(true);
  });
});
