import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { FaultyStore, NO_FAULTS } from "./faulty-store.js";
import { SeededRandom } from "./seeded-random.js";

describe("FaultyStore", () => {
  let clock: ManualClock;
  let inner: SqliteStore;
  let store: FaultyStore;

  beforeEach(async () => {
    clock = new ManualClock();
    inner = await SqliteStore.open({ path: ":memory:", clock });
    store = new FaultyStore(inner, clock, new SeededRandom(1), { ...NO_FAULTS });
  });
  afterEach(async () => inner.close());

  it("passes calls through when no fault is set", async () => {
    await store.put("/a", "1");
    expect((await store.get("/a"))?.value).toBe("1");
  });

  it("fails every call while partitioned, and nothing is written", async () => {
    store.partitioned = true;
    await expect(store.put("/a", "1")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(() => store.watch("/", { fromRevision: 1 })).toThrow(/unreachable/);
    store.partitioned = false;
    expect(await store.get("/a")).toBeUndefined();
  });

  it("can apply a write and still lose its reply", async () => {
    store.faults = { ...NO_FAULTS, failAfter: 1 };
    await expect(store.put("/a", "1")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect((await inner.get("/a"))?.value).toBe("1");
  });

  it("breaks watches, which resume from the last revision without a gap", async () => {
    const from = (await store.revision()) + 1;
    store.faults = { ...NO_FAULTS, watchBreak: 1 };
    const watch = store.watch("/", { fromRevision: from });
    await store.put("/a", "1");
    await expect(watch[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: "UNAVAILABLE" });
    store.faults = { ...NO_FAULTS };
    const resumed = store.watch("/", { fromRevision: from })[Symbol.asyncIterator]();
    expect((await resumed.next()).value?.events[0]?.kv.key).toBe("/a");
  });

  it("delays calls by virtual time", async () => {
    store.faults = { ...NO_FAULTS, latencyMs: [100, 100] };
    let done = false;
    const put = store.put("/a", "1").then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    clock.advance(100);
    await put;
    expect(done).toBe(true);
  });
});
