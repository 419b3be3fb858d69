/**
 * VmDriver contract: what survives the driver. A VM outlives the agent that started it, a new driver
 * instance re-adopts it without starting or killing anything, and a process that dies behind the
 * driver's back is reported as such, its console kept for the next start.
 */
import { describe, expect, it } from "vitest";
import {
  bootReady,
  type DriverContext,
  readyLine,
  waitForConsole,
  waitUntilDown,
} from "./harness.contract.js";

export function restartContract(c: DriverContext): void {
  describe("across driver restarts and crashes", () => {
    it("lets a new driver instance (a restarted agent) adopt a running VM and stop it, without knowing its exit status", async () => {
      const { harness } = c;
      const first = c.driver;
      const started = await bootReady(harness, first, "kept");
      const second = harness.restart();
      expect(await second.list()).toEqual(["kept"]);
      expect(await second.adopt("kept")).toEqual({ state: "running", ...started });
      expect(await second.inspect("kept")).toEqual({ state: "running", ...started });
      expect((await second.logs("kept")).text).toMatch(readyLine("kept"));

      expect(["graceful", "quit", "kill"]).toContain(await second.stop("kept", harness.stopOptions));
      // Only the instance that spawned the process can know how it exited.
      expect(await second.inspect("kept")).toEqual({
        state: "exited",
        exit: { code: null, signal: null, known: false },
      });
      expect(await first.inspect("kept")).toMatchObject({ state: "exited", exit: { known: true } });
      // A third instance adopting the stopped VM finds it exited, status unknown, and starts nothing.
      const third = harness.restart();
      expect(await third.adopt("kept")).toEqual({
        state: "exited",
        exit: { code: null, signal: null, known: false },
      });
      await second.remove("kept");
      expect(await first.list()).toEqual([]);
    });

    it("reports a process killed behind its back as exited by SIGKILL, and starts it again with its console kept", async () => {
      const { driver, harness } = c;
      const first = await bootReady(harness, driver, "crashy");
      await harness.kill("crashy", first.pid);
      expect(await waitUntilDown(driver, "crashy", 10_000)).toEqual({
        state: "exited",
        exit: { code: null, signal: "SIGKILL", known: true },
      });
      expect(await driver.stop("crashy", harness.stopOptions)).toBe("not-running");

      const offset = await driver.logSize("crashy");
      const again = await driver.start("crashy", harness.spec("crashy"));
      expect(again.pid).not.toBe(first.pid);
      expect(await driver.inspect("crashy")).toEqual({ state: "running", ...again });
      await waitForConsole(driver, "crashy", offset, readyLine("crashy"), harness.bootTimeoutMs);
      expect((await driver.logs("crashy")).text.match(new RegExp(readyLine("crashy"), "g"))).toHaveLength(2);

      await driver.stop("crashy", harness.stopOptions);
      await driver.remove("crashy");
      expect(await driver.inspect("crashy")).toEqual({ state: "absent" });
      expect(await driver.list()).toEqual([]);
    });
  });
}
