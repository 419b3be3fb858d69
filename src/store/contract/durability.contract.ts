/** Contract: what survives a reopen, what compaction keeps, and how a closed store answers. */
import { describe, expect, it } from "vitest";
import {
  type ContractContext,
  eventually,
  expectCode,
  revisionsFrom,
  WatchReader,
  watchFromNow,
} from "./context.contract.js";

const NO_REOPEN = "the harness cannot reopen its store";

export function durabilityContract(c: ContractContext): void {
  describe("reopening", () => {
    it("keeps data and the revision, and continues counting from it", async (t) => {
      if (!c.harness.reopen) t.skip(NO_REOPEN);
      await c.store.put("/d/a", "1");
      await c.store.put("/d/b", "2");
      const rev = await c.store.revision();
      const store = await c.reopen();
      expect(await store.revision()).toBe(rev);
      expect((await store.range("/d/")).kvs.map((kv) => [kv.key, kv.value])).toEqual([
        ["/d/a", "1"],
        ["/d/b", "2"],
      ]);
      expect(await store.put("/d/c", "3")).toBe(rev + 1);
    });

    it("replays history written before the reopen", async (t) => {
      if (!c.harness.reopen) t.skip(NO_REOPEN);
      const start = (await c.store.revision()) + 1;
      for (let i = 0; i < 3; i++) await c.store.put(`/d/${i}`, "v");
      const store = await c.reopen();
      const reader = new WatchReader(store.watch("/d/", { fromRevision: start }));
      const live = await store.put("/d/after", "v");
      const events = await reader.events(4);
      expect(events.map((e) => e.revision)).toEqual([...revisionsFrom(start, start + 2), live]);
      reader.close();
    });

    it("still expires a lease granted before the reopen", async (t) => {
      if (!c.harness.reopen) t.skip(NO_REOPEN);
      const lease = await c.store.grantLease(2);
      await c.store.put("/d/leased", "v", { lease: lease.id });
      const store = await c.reopen();
      expect((await store.get("/d/leased"))?.lease).toBe(lease.id);
      await c.passTime(2000);
      await eventually(c, async () => (await store.get("/d/leased")) === undefined, "the lease expires");
    });

    it("never hands out a lease id again after a reopen", async (t) => {
      if (!c.harness.reopen) t.skip(NO_REOPEN);
      const before = await c.store.grantLease(60);
      const store = await c.reopen();
      const after = await store.grantLease(60);
      expect(after.id).not.toBe(before.id);
    });
  });

  describe("compaction", () => {
    it("keeps current values readable", async () => {
      await c.store.put("/d/a", "1");
      await c.store.put("/d/a", "2");
      const created = await c.store.put("/d/b", "1");
      await c.store.delete("/d/b");
      await c.store.put("/d/b", "2");
      await c.store.compact(await c.store.revision());
      expect((await c.store.get("/d/a"))?.value).toBe("2");
      expect(await c.store.get("/d/b")).toMatchObject({ value: "2", version: 1 });
      expect((await c.store.get("/d/b"))?.createRevision).toBeGreaterThan(created);
      expect((await c.store.range("/d/")).kvs).toHaveLength(2);
    });

    it("serves watches from after the compaction point", async () => {
      await c.store.put("/d/a", "1");
      const compactedAt = await c.store.put("/d/a", "2");
      const next = await c.store.put("/d/a", "3");
      await c.store.compact(compactedAt);
      const reader = new WatchReader(c.store.watch("/d/", { fromRevision: compactedAt + 1 }));
      const [event] = await reader.events(1);
      expect(event).toMatchObject({ revision: next, kv: { value: "3" }, prevKv: { value: "2" } });
      reader.close();
    });

    it("refuses to compact at or before the compaction point again with COMPACTED", async () => {
      await c.store.put("/d/a", "1");
      const compactedAt = await c.store.put("/d/a", "2");
      await c.store.put("/d/a", "3");
      await c.store.compact(compactedAt);
      await expectCode(c.store.compact(compactedAt), "COMPACTED");
      await expectCode(c.store.compact(compactedAt - 1), "COMPACTED");
      await c.store.compact(compactedAt + 1);
    });

    it("refuses to compact a revision the store has not reached with INVALID_ARGUMENT", async () => {
      const now = await c.store.revision();
      await expectCode(c.store.compact(now + 10), "INVALID_ARGUMENT");
    });
  });

  describe("closing", () => {
    it("fails calls with UNAVAILABLE once closed, and may be closed twice", async () => {
      await c.store.close();
      await c.store.close();
      await expectCode(c.store.get("/d/a"), "UNAVAILABLE");
      await expectCode(c.store.put("/d/a", "v"), "UNAVAILABLE");
    });

    it("ends open watches when closed", async () => {
      const reader = await watchFromNow(c, "/d/");
      await c.store.close();
      expect(await reader.ended()).toBe(true);
    });
  });
}
