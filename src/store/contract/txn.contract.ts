/** Contract: transactions compare revisions, then apply one branch atomically at one revision. */
import { describe, expect, it } from "vitest";
import type { CompareOp, CompareTarget, KeyValue } from "../../ports/store.js";
import { type ContractContext, expectCode } from "./context.contract.js";

const TARGETS: CompareTarget[] = ["modRevision", "createRevision", "version"];

/** For each op: compare values relative to the actual one, and whether the compare should hold. */
const CASES: Array<[CompareOp, number, boolean]> = [
  ["=", 0, true],
  ["=", 1, false],
  ["!=", 0, false],
  ["!=", -1, true],
  ["<", 1, true],
  ["<", 0, false],
  [">", -1, true],
  [">", 0, false],
];

export function txnContract(c: ContractContext): void {
  describe("transactions", () => {
    it.each(TARGETS)("compares %s with =, !=, < and >", async (target) => {
      await c.store.put("/t/k", "v1");
      await c.store.put("/other", "v");
      await c.store.put("/t/k", "v2");
      const kv = (await c.store.get("/t/k")) as KeyValue;
      for (const [op, delta, holds] of CASES) {
        const compare = { key: "/t/k", target, op, value: kv[target] + delta };
        const result = await c.store.txn({ compare: [compare], success: [] });
        expect(result.succeeded, `${target} ${op} ${compare.value} (actual ${kv[target]})`).toBe(holds);
      }
    });

    it("treats a missing key as 0 for every compare target", async () => {
      for (const target of TARGETS) {
        const equalZero = await c.store.txn({
          compare: [{ key: "/none", target, op: "=", value: 0 }],
          success: [],
        });
        expect(equalZero.succeeded).toBe(true);
        const aboveZero = await c.store.txn({
          compare: [{ key: "/none", target, op: ">", value: 0 }],
          success: [],
        });
        expect(aboveZero.succeeded).toBe(false);
      }
    });

    it("applies the success branch only when every compare holds, else the failure branch", async () => {
      const rev = await c.store.put("/t/a", "1");
      const ok = await c.store.txn({
        compare: [
          { key: "/t/a", target: "modRevision", op: "=", value: rev },
          { key: "/t/b", target: "createRevision", op: "=", value: 0 },
        ],
        success: [{ type: "put", key: "/t/b", value: "from success" }],
        failure: [{ type: "put", key: "/t/c", value: "from failure" }],
      });
      expect(ok).toEqual({ succeeded: true, revision: rev + 1 });
      const failed = await c.store.txn({
        compare: [
          { key: "/t/a", target: "modRevision", op: "=", value: rev },
          { key: "/t/b", target: "createRevision", op: "=", value: 0 },
        ],
        success: [{ type: "put", key: "/t/b", value: "from success again" }],
        failure: [{ type: "put", key: "/t/c", value: "from failure" }],
      });
      expect(failed).toEqual({ succeeded: false, revision: rev + 2 });
      expect((await c.store.get("/t/b"))?.value).toBe("from success");
      expect((await c.store.get("/t/c"))?.value).toBe("from failure");
    });

    it("applies every operation of a transaction at one shared revision", async () => {
      await c.store.put("/t/old", "x");
      for (const key of ["/p/1", "/p/2", "/p2"]) await c.store.put(key, "x");
      const before = await c.store.revision();
      const result = await c.store.txn({
        compare: [],
        success: [
          { type: "put", key: "/t/a", value: "a" },
          { type: "put", key: "/t/b", value: "b" },
          { type: "delete", key: "/t/old" },
          { type: "deletePrefix", prefix: "/p/" },
        ],
      });
      expect(result).toEqual({ succeeded: true, revision: before + 1 });
      expect(await c.store.revision()).toBe(before + 1);
      expect((await c.store.get("/t/a"))?.modRevision).toBe(result.revision);
      expect((await c.store.get("/t/b"))?.modRevision).toBe(result.revision);
      expect(await c.store.get("/t/old")).toBeUndefined();
      expect((await c.store.range("/p")).kvs.map((kv) => kv.key)).toEqual(["/p2"]);
    });

    it("keeps the revision when a transaction changes nothing", async () => {
      await c.store.put("/t/a", "1");
      const before = await c.store.revision();
      const empty = await c.store.txn({ compare: [], success: [] });
      const noop = await c.store.txn({
        compare: [],
        success: [
          { type: "delete", key: "/t/missing" },
          { type: "deletePrefix", prefix: "/nothing/" },
        ],
      });
      expect(empty).toEqual({ succeeded: true, revision: before });
      expect(noop).toEqual({ succeeded: true, revision: before });
      expect(await c.store.revision()).toBe(before);
    });

    it("applies none of a transaction's operations when one of them fails", async () => {
      await c.store.put("/t/keep", "original");
      const before = await c.store.revision();
      const unknownLease = 987_654_321;
      await expectCode(
        c.store.txn({
          compare: [],
          success: [
            { type: "put", key: "/t/keep", value: "changed" },
            { type: "put", key: "/t/leased", value: "v", lease: unknownLease },
          ],
        }),
        "LEASE_NOT_FOUND",
      );
      expect((await c.store.get("/t/keep"))?.value).toBe("original");
      expect(await c.store.get("/t/leased")).toBeUndefined();
      expect(await c.store.revision()).toBe(before);
    });

    it("rejects a branch that writes the same key twice with INVALID_ARGUMENT", async () => {
      await expectCode(
        c.store.txn({
          compare: [],
          success: [
            { type: "put", key: "/t/dup", value: "1" },
            { type: "put", key: "/t/dup", value: "2" },
          ],
        }),
        "INVALID_ARGUMENT",
      );
    });

    it("lets exactly one of two racing create-if-absent transactions win", async () => {
      const create = (value: string) =>
        c.store.txn({
          compare: [{ key: "/t/leader", target: "createRevision", op: "=", value: 0 }],
          success: [{ type: "put", key: "/t/leader", value }],
        });
      const results = await Promise.all([create("first"), create("second")]);
      expect(results.filter((r) => r.succeeded)).toHaveLength(1);
      const winner = results[0]!.succeeded ? "first" : "second";
      expect((await c.store.get("/t/leader"))?.value).toBe(winner);
    });

    it("rejects a compare-and-swap based on a stale mod revision", async () => {
      const read = await c.store.put("/t/cas", "v1");
      await c.store.put("/t/cas", "v2 by someone else");
      const swap = await c.store.txn({
        compare: [{ key: "/t/cas", target: "modRevision", op: "=", value: read }],
        success: [{ type: "put", key: "/t/cas", value: "v2 by me" }],
      });
      expect(swap.succeeded).toBe(false);
      expect((await c.store.get("/t/cas"))?.value).toBe("v2 by someone else");
    });
  });
}
