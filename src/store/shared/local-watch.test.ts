/**
 * The in-process watch (local-watch.ts) over both stores that use it: replay of the revision log page
 * by page, then live batches, and compaction that overtakes a replay. Each store reads its log its own
 * way (SQLite 256 revisions a page, the memory store one), so the histories here span several pages.
 */
import { describe, expect, it } from "vitest";
import type { Store } from "../../ports/store.js";
import { ManualClock } from "../../testing/manual-clock.js";
import { WatchReader } from "../contract/context.contract.js";
import { MemoryStore } from "../memory/memory-store.js";
import { SqliteStore } from "../sqlite/sqlite-store.js";

describe.each([
  { kind: "memory", open: async (): Promise<Store> => new MemoryStore({ clock: new ManualClock() }) },
  {
    kind: "sqlite",
    open: (): Promise<Store> => SqliteStore.open({ path: ":memory:", clock: new ManualClock() }),
  },
])("in-process watches over the $kind store", ({ open }) => {
  const withStore = (test: (store: Store) => Promise<void>) => async () => {
    const store = await open();
    try {
      await test(store);
    } finally {
      await store.close();
    }
  };

  it(
    "replays a long history page by page while writes continue, without gaps",
    withStore(async (store) => {
      const start = (await store.revision()) + 1;
      for (let i = 0; i < 700; i++) await store.put(`/h/${i % 7}`, `${i}`);
      const reader = new WatchReader(store.watch("/h/", { fromRevision: start }));
      const early = await reader.events(300);
      for (let i = 700; i < 1000; i++) await store.put(`/h/${i % 7}`, `${i}`);
      const rest = await reader.events(1000 - early.length);
      expect([...early, ...rest].map((e) => e.revision)).toEqual(
        Array.from({ length: 1000 }, (_, i) => start + i),
      );
      expect(rest[rest.length - 1]?.kv.value).toBe("999");
      reader.close();
    }),
  );

  it(
    "fails a watch with COMPACTED when compaction overtakes its replay",
    withStore(async (store) => {
      const start = (await store.revision()) + 1;
      for (let i = 0; i < 600; i++) await store.put("/h/k", `${i}`);
      const reader = new WatchReader(store.watch("/h/", { fromRevision: start }));
      await reader.next();
      await store.compact(await store.revision());
      await expect(reader.events(600)).rejects.toMatchObject({ code: "COMPACTED" });
    }),
  );

  it(
    "keeps delivering live batches to a watch that caught up before a compaction",
    withStore(async (store) => {
      const reader = new WatchReader(store.watch("/h/", { fromRevision: (await store.revision()) + 1 }));
      const first = await store.put("/h/k", "1");
      await store.put("/h/k", "2");
      await store.compact(await store.revision());
      expect((await reader.events(2)).map((e) => e.revision)).toEqual([first, first + 1]);
    }),
  );
});
