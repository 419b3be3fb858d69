import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "../../platform/system-clock.js";
import { fileSize, followFile, readTail } from "./console-log.js";
import { rotateConsoleLog } from "./console-rotation.js";

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

describe("rotateConsoleLog", () => {
  const onDisk = () => statSize(file) + statSize(`${file}.1`);
  const statSize = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0;
    }
  };

  // The attack: a guest printing without end to its serial console filled the host's disk.
  it("keeps a guest-sized flood under twice the cap on disk, its writer's fd staying open", async () => {
    const cap = 1024 * 1024;
    // Opened like qemu's chardev with append=on: O_APPEND, held for the VM's whole life.
    const fd = openSync(file, "a", 0o600);
    try {
      const chunk = `${"x".repeat(1023)}\n`.repeat(64); // 64 KiB of console output
      for (let i = 0; i < 400; i++) {
        writeSync(fd, chunk);
        // The node checks about once a second; here every 256 KiB of output (25 MiB in all).
        if (i % 4 === 3) {
          await rotateConsoleLog(file, cap);
          expect(onDisk()).toBeLessThan(2 * cap);
        }
      }
      writeSync(fd, "the newest line\n");
      await rotateConsoleLog(file, cap);
      expect(onDisk()).toBeLessThan(2 * cap);
      // O_APPEND writes land at the truncated end, not at the old offset (no sparse 25 MiB file).
      expect(statSync(file).blocks * 512).toBeLessThan(2 * cap);
      expect((await readTail(file, 1)).text).toBe("the newest line\n");
      expect(readFileSync(`${file}.1`, "utf8").endsWith(chunk)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it("leaves a log under the cap alone", async () => {
    writeFileSync(file, "booted\n");
    expect(await rotateConsoleLog(file, 1024)).toBe(false);
    expect(readFileSync(file, "utf8")).toBe("booted\n");
    expect(await rotateConsoleLog(path.join(dir, "missing.log"), 1024)).toBe(false);
  });

  it("lets a follower continue across a rotation without losing or repeating output", async () => {
    const fd = openSync(file, "a", 0o600);
    const abort = new AbortController();
    const seen: string[] = [];
    try {
      writeSync(fd, "one\n");
      const follower = (async () => {
        for await (const text of followFile(file, 0, abort.signal, systemClock, 20)) seen.push(text);
      })();
      await until(() => seen.join("") === "one\n");
      // Written and rotated away before the follower looks again: it must come from the copy.
      writeSync(fd, `two ${"y".repeat(100)}\n`);
      // The cap is the log's size: the copy holds all of it, so nothing is cut for size.
      expect(await rotateConsoleLog(file, statSync(file).size)).toBe(true);
      writeSync(fd, "three\n");
      await until(() => seen.join("").endsWith("three\n"));
      abort.abort();
      await follower;
      expect(seen.join("")).toBe(`one\ntwo ${"y".repeat(100)}\nthree\n`);
    } finally {
      abort.abort();
      closeSync(fd);
    }
  });
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(done()).toBe(true);
}

describe("followFile with a relative path", () => {
  it("sees a rotation made through the absolute path of the same log", async () => {
    const relative = path.relative(process.cwd(), file);
    writeFileSync(file, "one\n");
    const abort = new AbortController();
    const seen: string[] = [];
    const follower = (async () => {
      for await (const text of followFile(relative, 0, abort.signal, systemClock, 20)) seen.push(text);
    })();
    await until(() => seen.join("") === "one\n");
    appendFileSync(file, "two\n");
    expect(await rotateConsoleLog(file, 8)).toBe(true);
    appendFileSync(file, "three and more\n");
    await until(() => seen.join("").endsWith("more\n"));
    abort.abort();
    await follower;
    expect(seen.join("")).toBe("one\ntwo\nthree and more\n");
  });
});

describe("readTail after a rotation", () => {
  it("reaches back into the rotated copy for lines the log no longer holds", async () => {
    writeFileSync(file, "one\ntwo\nthree\n");
    expect(await rotateConsoleLog(file, 8)).toBe(true);
    appendFileSync(file, "four\n");
    // The copy holds the newest 8 bytes of the old log: "o\nthree\n".
    expect((await readTail(file, 2)).text).toBe("three\nfour\n");
    expect((await readTail(file, 1)).text).toBe("four\n");
    const all = await readTail(file);
    expect(all.text).toBe("o\nthree\nfour\n");
    expect(all.offset).toBe(5);
  });
});
