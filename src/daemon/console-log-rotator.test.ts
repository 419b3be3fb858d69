import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../ports/logger.js";
import { ManualClock } from "../testing/manual-clock.js";
import { startConsoleLogRotator } from "./console-log-rotator.js";

describe("console log rotator", () => {
  let vmsDir: string;
  beforeEach(() => {
    vmsDir = mkdtempSync(join(tmpdir(), "blixard-rotator-"));
    for (const vm of ["web", "db"]) mkdirSync(join(vmsDir, vm));
  });
  afterEach(() => rmSync(vmsDir, { recursive: true, force: true }));

  const size = (vm: string, file = "console.log") => statSync(join(vmsDir, vm, file)).size;

  // The accident it stops: a log that grew while the node was down stays huge until someone notices.
  it("rotates every VM's oversized log at start, then again on its interval", async () => {
    const clock = new ManualClock();
    writeFileSync(join(vmsDir, "web", "console.log"), "x".repeat(5000));
    writeFileSync(join(vmsDir, "db", "console.log"), "small\n");
    const rotator = startConsoleLogRotator({ vmsDir, maxBytes: 1000, clock, logger: silentLogger });
    try {
      await expect.poll(() => size("web")).toBe(0);
      expect(size("web", "console.log.1")).toBe(1000);
      expect(size("db")).toBe(6);
      writeFileSync(join(vmsDir, "db", "console.log"), "y".repeat(3000), { flag: "a" });
      clock.advance(1000);
      await expect.poll(() => size("db")).toBe(0);
      expect(size("db", "console.log.1")).toBe(1000);
    } finally {
      rotator.stop();
    }
  });
});
