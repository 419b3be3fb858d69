/**
 * VmDriver contract: what a driver answers about VMs it holds no process for. These cases boot
 * nothing, so they are cheap on every driver.
 */
import { describe, expect, it } from "vitest";
import { type DriverContext, expectCode, expectRejection, readStream } from "./harness.contract.js";

/** Names that would leave `<vmsDir>/` if they became a path: each must be refused before any I/O. */
const ESCAPING_NAMES = ["..", "../victim", "a/../../victim", "/etc", "", "UPPER", "a".repeat(64)];

export function noStateContract(c: DriverContext): void {
  describe("with no VM", () => {
    it("reports a VM it has no state for as absent from inspect and adopt, and lists nothing", async () => {
      expect(await c.driver.inspect("ghost")).toEqual({ state: "absent" });
      expect(await c.driver.adopt("ghost")).toEqual({ state: "absent" });
      expect(await c.driver.list()).toEqual([]);
    });

    it("stops a missing VM as not-running, and removes or quarantines it as a no-op (both idempotent)", async () => {
      expect(await c.driver.stop("ghost", c.harness.stopOptions)).toBe("not-running");
      await c.driver.remove("ghost");
      await c.driver.remove("ghost", { quarantine: { reason: "contract" } });
      expect(await c.harness.quarantined()).toEqual([]);
      expect(await c.driver.list()).toEqual([]);
    });

    it("has no console log for a VM with no state: NOT_FOUND from logs and streamLogs, size 0", async () => {
      await expectCode(c.driver.logs("ghost"), "NOT_FOUND");
      await expectCode(readStream(c.driver, "ghost", undefined, 1024), "NOT_FOUND");
      expect(await c.driver.logSize("ghost")).toBe(0);
    });

    it("refuses a VM name that could escape its VMs directory, with INVALID_ARGUMENT, on every call", async () => {
      // The attack: a name like "../victim" becoming a path that remove deletes recursively.
      const spec = c.harness.spec("victim");
      for (const name of ESCAPING_NAMES) {
        await expectRejection(() => c.driver.remove(name), "INVALID_ARGUMENT");
        await expectRejection(
          () => c.driver.remove(name, { quarantine: { reason: "contract" } }),
          "INVALID_ARGUMENT",
        );
        await expectRejection(() => c.driver.prepare(name, spec), "INVALID_ARGUMENT");
        await expectRejection(() => c.driver.start(name, spec), "INVALID_ARGUMENT");
        await expectRejection(() => c.driver.stop(name, c.harness.stopOptions), "INVALID_ARGUMENT");
        await expectRejection(() => c.driver.inspect(name), "INVALID_ARGUMENT");
        await expectRejection(() => c.driver.logs(name), "INVALID_ARGUMENT");
        await expectRejection(() => c.driver.logSize(name), "INVALID_ARGUMENT");
      }
      expect(await c.driver.list()).toEqual([]);
    });

    it("refuses to prepare or start a VM whose spec names a missing host file, with FAILED_PRECONDITION, running nothing", async () => {
      const spec = c.harness.missingFileSpec("lacking");
      await expectRejection(() => c.driver.prepare("lacking", spec), "FAILED_PRECONDITION");
      await expectRejection(() => c.driver.start("lacking", spec), "FAILED_PRECONDITION");
      expect(await c.driver.inspect("lacking")).toEqual({ state: "absent" });
    });

    it("makes a prepared VM known (listed, absent until started), prepares idempotently, and removes it", async () => {
      const spec = c.harness.spec("prepared");
      await c.driver.prepare("prepared", spec);
      await c.driver.prepare("prepared", spec);
      expect(await c.driver.list()).toEqual(["prepared"]);
      expect(await c.driver.inspect("prepared")).toEqual({ state: "absent" });
      const tail = await c.driver.logs("prepared");
      expect(tail.offset).toBe(await c.driver.logSize("prepared"));
      await c.driver.remove("prepared");
      expect(await c.driver.list()).toEqual([]);
      expect(await c.driver.inspect("prepared")).toEqual({ state: "absent" });
    });
  });
}
