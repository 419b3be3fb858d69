/**
 * VmDriver contract: one guest through its whole life on one driver instance (start, inspect, logs,
 * stop, quarantine). One boot for all of it, so that real drivers stay cheap to hold to it.
 */
import { describe, expect, it } from "vitest";
import { type DriverContext, expectCode, readStream, readyLine, waitForConsole } from "./harness.contract.js";

const STOPPED_BY = ["graceful", "quit", "kill"];

export function lifecycleContract(c: DriverContext): void {
  describe("one VM's life", () => {
    it("starts once when asked twice at once, refuses a second start and a remove while running, shows its console, stops once when asked twice and quarantines", async () => {
      const { driver, harness } = c;
      const spec = harness.spec("life");
      await driver.prepare("life", spec);
      const offset = await driver.logSize("life");
      // Two starts at once (a retried request): exactly one process, the other start refused.
      const both = await Promise.allSettled([driver.start("life", spec), driver.start("life", spec)]);
      const won = both.filter((r) => r.status === "fulfilled");
      const lost = both.filter((r) => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost.map((r) => (r.reason as { code?: string }).code)).toEqual(["FAILED_PRECONDITION"]);
      const started = won[0]!.value;
      expect(Number.isInteger(started.pid) && started.pid > 0).toBe(true);
      expect(await driver.inspect("life")).toEqual({ state: "running", ...started });
      expect(await driver.list()).toEqual(["life"]);
      await waitForConsole(driver, "life", offset, readyLine("life"), harness.bootTimeoutMs);

      // A rejected request changes nothing: the same process still runs.
      await expectCode(driver.start("life", spec), "FAILED_PRECONDITION");
      await expectCode(driver.remove("life"), "FAILED_PRECONDITION");
      await expectCode(driver.remove("life", { quarantine: { reason: "contract" } }), "FAILED_PRECONDITION");
      expect(await driver.inspect("life")).toEqual({ state: "running", ...started });

      const all = await driver.logs("life");
      expect(all.text).toMatch(readyLine("life"));
      expect(all.offset).toBeGreaterThanOrEqual(Buffer.byteLength(all.text));
      expect(all.offset).toBeLessThanOrEqual(await driver.logSize("life"));
      expect((await driver.logs("life", 0)).text).toBe("");
      const last = (await driver.logs("life", 1)).text;
      expect(last.replace(/\n$/, "")).not.toContain("\n");
      expect(all.text.endsWith(last)).toBe(true);

      // Streamed in chunks of at most 16 bytes (plus a split UTF-8 character carried over).
      const streamed = await readStream(driver, "life", undefined, 16);
      expect(streamed.largestChunk).toBeLessThanOrEqual(16 + 3);
      expect(streamed.text.startsWith(all.text.slice(0, 200))).toBe(true);
      expect(streamed.text).toMatch(readyLine("life"));
      expect(streamed.offset).toBeGreaterThanOrEqual(all.offset);

      // Two stops at once: one stops the VM, the other finds it not running.
      const methods = await Promise.all([
        driver.stop("life", harness.stopOptions),
        driver.stop("life", harness.stopOptions),
      ]);
      expect(methods.filter((m) => m === "not-running")).toHaveLength(1);
      const method = methods.find((m) => m !== "not-running")!;
      expect(STOPPED_BY).toContain(method);
      // This instance spawned the process, so it knows how it ended: a guest that powered off, 0.
      const after = await driver.inspect("life");
      expect(after).toMatchObject({ state: "exited", exit: { known: true } });
      if (method === "graceful") expect(after).toMatchObject({ exit: { code: 0, signal: null } });
      expect(await driver.stop("life", harness.stopOptions)).toBe("not-running");
      expect(await driver.inspect("life")).toEqual(after);
      expect(await driver.list()).toEqual(["life"]);

      // The console outlives the process.
      await waitForConsole(driver, "life", 0, readyLine("life"), harness.bootTimeoutMs);

      await driver.remove("life", { quarantine: { reason: "contract" } });
      expect(await driver.list()).toEqual([]);
      expect(await driver.inspect("life")).toEqual({ state: "absent" });
      await expectCode(driver.logs("life"), "NOT_FOUND");
      expect(await harness.quarantined()).toEqual([{ vm: "life", reason: "contract" }]);
    });
  });
}
