/** Contract: watches deliver every change after a revision, in order, without gaps, and resume. */
import { describe, expect, it } from "vitest";
import {
  type ContractContext,
  expectCode,
  revisionsFrom,
  WatchReader,
  watchFromNow,
} from "./context.contract.js";

export function watchContract(c: ContractContext): void {
  describe("watches", () => {
    it("starts at the given revision, leaving out the changes before it", async () => {
      await c.store.put("/w/before", "v");
      const fromRevision = (await c.store.revision()) + 1;
      const reader = new WatchReader(c.store.watch("/w/", { fromRevision }));
      const rev = await c.store.put("/w/after", "v");
      const batch = await reader.next();
      expect(batch.revision).toBe(rev);
      expect(batch.events.map((e) => [e.type, e.kv.key])).toEqual([["put", "/w/after"]]);
      reader.close();
    });

    it("rejects a start revision that is not a positive integer with INVALID_ARGUMENT", () => {
      for (const fromRevision of [0, -1, 1.5, Number.NaN]) {
        expect(() => c.store.watch("/w/", { fromRevision })).toThrow(
          expect.objectContaining({ name: "BlixardError", code: "INVALID_ARGUMENT" }),
        );
      }
    });

    it("replays history from a past revision in order, then continues live", async () => {
      const first = await c.store.put("/w/a", "1");
      await c.store.put("/w/b", "1");
      await c.store.delete("/w/a");
      const reader = new WatchReader(c.store.watch("/w/", { fromRevision: first }));
      const live = await c.store.put("/w/c", "1");
      const events = await reader.events(4);
      expect(events.map((e) => [e.revision, e.type, e.kv.key])).toEqual([
        [first, "put", "/w/a"],
        [first + 1, "put", "/w/b"],
        [first + 2, "delete", "/w/a"],
        [live, "put", "/w/c"],
      ]);
      reader.close();
    });

    it("gives each put its new value and revisions, and the previous value as prevKv", async () => {
      const start = (await c.store.revision()) + 1;
      const created = await c.store.put("/w/k", "v1");
      const updated = await c.store.put("/w/k", "v2");
      const reader = new WatchReader(c.store.watch("/w/", { fromRevision: start }));
      const [create, update] = await reader.events(2);
      expect(create?.kv).toEqual({
        key: "/w/k",
        value: "v1",
        createRevision: created,
        modRevision: created,
        version: 1,
        lease: 0,
      });
      expect(create?.prevKv).toBeUndefined();
      expect(update?.kv).toMatchObject({
        value: "v2",
        createRevision: created,
        modRevision: updated,
        version: 2,
      });
      expect(update?.prevKv).toMatchObject({ key: "/w/k", value: "v1", modRevision: created, version: 1 });
      reader.close();
    });

    it("reports a delete with an empty value, the deleting revision and the deleted value as prevKv", async () => {
      const reader = await watchFromNow(c, "/w/");
      const put = await c.store.put("/w/gone", "last words");
      await c.store.delete("/w/gone");
      const [, deletion] = await reader.events(2);
      expect(deletion?.type).toBe("delete");
      expect(deletion?.revision).toBe(put + 1);
      expect(deletion?.kv).toMatchObject({ key: "/w/gone", value: "", modRevision: put + 1 });
      expect(deletion?.prevKv).toMatchObject({ key: "/w/gone", value: "last words", modRevision: put });
      reader.close();
    });

    it("delivers the events of one transaction as one batch with the transaction's revision", async () => {
      await c.store.put("/w/z", "v");
      const reader = await watchFromNow(c, "/w/");
      const result = await c.store.txn({
        compare: [],
        success: [
          { type: "put", key: "/w/y", value: "1" },
          { type: "put", key: "/w/x", value: "1" },
          { type: "delete", key: "/w/z" },
        ],
      });
      const batch = await reader.next();
      expect(batch.revision).toBe(result.revision);
      expect(batch.events.map((e) => [e.type, e.kv.key, e.kv.modRevision])).toEqual([
        ["put", "/w/y", result.revision],
        ["put", "/w/x", result.revision],
        ["delete", "/w/z", result.revision],
      ]);
      reader.close();
    });

    it("delivers only keys under its prefix, not siblings that share the characters", async () => {
      const reader = await watchFromNow(c, "/w/");
      await c.store.put("/wx", "sibling");
      await c.store.put("/w", "parent");
      await c.store.txn({
        compare: [],
        success: [
          { type: "put", key: "/other", value: "1" },
          { type: "put", key: "/w/mine", value: "1" },
        ],
      });
      const batch = await reader.next();
      expect(batch.events.map((e) => e.kv.key)).toEqual(["/w/mine"]);
      reader.close();
    });

    it("delivers every change of many concurrent writes exactly once, in revision order", async () => {
      const start = (await c.store.revision()) + 1;
      const live = new WatchReader(c.store.watch("/w/", { fromRevision: start }));
      await Promise.all(Array.from({ length: 60 }, (_, i) => c.store.put(`/w/${i}`, `${i}`)));
      // A second watch joins from the start while writes are still going on.
      const late = new WatchReader(c.store.watch("/w/", { fromRevision: start }));
      await Promise.all(Array.from({ length: 60 }, (_, i) => c.store.put(`/w/${60 + i}`, `${60 + i}`)));
      for (const reader of [live, late]) {
        const events = await reader.events(120);
        expect(events.map((e) => e.revision)).toEqual(revisionsFrom(start, start + 119));
        expect(new Set(events.map((e) => e.kv.key)).size).toBe(120);
        reader.close();
      }
    });

    it("switches from replaying history to live changes without gaps or duplicates", async () => {
      const start = (await c.store.revision()) + 1;
      for (let i = 0; i < 30; i++) await c.store.put(`/w/${i}`, "old");
      const reader = new WatchReader(c.store.watch("/w/", { fromRevision: start }));
      const early = await reader.events(10);
      for (let i = 30; i < 60; i++) await c.store.put(`/w/${i}`, "new");
      const rest = await reader.events(60 - early.length);
      expect([...early, ...rest].map((e) => e.revision)).toEqual(revisionsFrom(start, start + 59));
      // Nothing else is queued: the next batch is a fresh write.
      const sentinel = await c.store.put("/w/sentinel", "v");
      expect((await reader.next()).revision).toBe(sentinel);
      reader.close();
    });

    it("resumes after close from the last revision seen + 1 with exactly the remaining events", async () => {
      const start = (await c.store.revision()) + 1;
      const first = new WatchReader(c.store.watch("/w/", { fromRevision: start }));
      for (let i = 0; i < 5; i++) await c.store.put(`/w/${i}`, "v");
      const seen = await first.batches(2);
      first.close();
      for (let i = 5; i < 8; i++) await c.store.put(`/w/${i}`, "v");
      const lastSeen = seen[seen.length - 1]!.revision;
      const resumed = new WatchReader(c.store.watch("/w/", { fromRevision: lastSeen + 1 }));
      const rest = await resumed.events(6);
      expect(rest.map((e) => e.revision)).toEqual(revisionsFrom(start + 2, start + 7));
      expect(rest.map((e) => e.kv.key)).toEqual(["/w/2", "/w/3", "/w/4", "/w/5", "/w/6", "/w/7"]);
      const sentinel = await c.store.put("/w/sentinel", "v");
      expect((await resumed.next()).revision).toBe(sentinel);
      resumed.close();
    });

    it("gives each watch its own copy of an event, so one consumer cannot change another's", async () => {
      // A consumer that edits what it was handed (say, stripping a secret from a value before it
      // logs it) must not change what the scheduler's watch on the same prefix acts on.
      const fromRevision = (await c.store.revision()) + 1;
      const meddler = new WatchReader(c.store.watch("/w/", { fromRevision }));
      const bystander = new WatchReader(c.store.watch("/w/", { fromRevision }));
      await c.store.put("/w/k", "original");
      const [meddled] = await meddler.events(1);
      meddled!.kv.value = "tampered";
      meddled!.kv.modRevision = 0;
      const [seen] = await bystander.events(1);
      expect(seen?.kv).toMatchObject({ value: "original", modRevision: meddled!.revision });
      meddler.close();
      bystander.close();
    });

    it("starts at a future revision without delivering the changes before it", async () => {
      const now = await c.store.revision();
      const reader = new WatchReader(c.store.watch("/w/", { fromRevision: now + 3 }));
      await c.store.put("/w/1", "v");
      await c.store.put("/w/2", "v");
      const third = await c.store.put("/w/3", "v");
      const batch = await reader.next();
      expect(batch.revision).toBe(third);
      reader.close();
    });

    it("fails with COMPACTED when started before the compaction point", async () => {
      const first = await c.store.put("/w/a", "1");
      await c.store.put("/w/a", "2");
      const compactedAt = await c.store.put("/w/a", "3");
      await c.store.compact(compactedAt);
      const reader = new WatchReader(c.store.watch("/w/", { fromRevision: first }));
      await expectCode(reader.next(), "COMPACTED");
      reader.close();
    });

    it("ends the iteration when closed, also while the consumer is waiting", async () => {
      const fromRevision = (await c.store.revision()) + 1;
      const watch = c.store.watch("/w/", { fromRevision });
      const iterator = watch[Symbol.asyncIterator]();
      const pending = iterator.next();
      watch.close();
      expect((await pending).done).toBe(true);

      const looped = c.store.watch("/w/", { fromRevision });
      const loop = (async () => {
        let batches = 0;
        for await (const _ of looped) batches++;
        return batches;
      })();
      await c.store.put("/w/one", "v");
      await c.store.revision();
      looped.close();
      expect(await loop).toBeLessThanOrEqual(1);
    });
  });
}
