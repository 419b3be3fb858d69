import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Decoded } from "../core/store-codecs.js";
import { silentLogger } from "../ports/logger.js";
import type { KeyValue, Store } from "../ports/store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { behindCompaction } from "../testing/behind-compaction.js";
import { breakableWatches } from "../testing/breakable-watches.js";
import { ManualClock } from "../testing/manual-clock.js";
import { type Entry, Informer } from "./informer.js";

const PREFIX = "/t/";

/** Values are numbers; anything else is invalid. */
function decode(_name: string, kv: KeyValue): Decoded<number> {
  const n = Number(kv.value);
  return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, problem: `not a number: ${kv.value}` };
}

const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

describe("Informer", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let informer: Informer<number> | undefined;
  const changes: string[] = [];
  const resets: string[] = [];
  const invalid: string[] = [];

  const start = async (on: Store = store) => {
    informer = new Informer<number>({
      store: on,
      clock,
      logger: silentLogger,
      collection: { kind: "number", prefix: PREFIX, decode },
      onReset: (entries, revision) => {
        resets.push(`${revision}: ${[...entries].map(([n, e]) => `${n}=${e.value}`).join(",")}`);
      },
      onChange: (name, next, previous) =>
        changes.push(`${name}: ${previous?.value ?? "-"} -> ${next?.value ?? "-"}`),
      onInvalid: (name, problem) => invalid.push(`${name}: ${problem}`),
    });
    await informer.start();
    return informer;
  };
  const values = () =>
    Object.fromEntries([...informer!.entries()].map(([n, e]: [string, Entry<number>]) => [n, e.value]));

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    changes.length = 0;
    resets.length = 0;
    invalid.length = 0;
  });
  afterEach(async () => {
    informer?.stop();
    informer = undefined;
    await store.close();
  });

  it("lists the prefix, then follows it: puts, deletes, and values that do not decode count as absent", async () => {
    await store.put(`${PREFIX}a`, "1");
    await store.put("/other/x", "9");
    const revision = await store.put(`${PREFIX}b`, "2");
    const inf = await start();
    expect(inf.ready).toBe(true);
    expect(resets).toEqual([`${revision}: a=1,b=2`]);
    await store.put(`${PREFIX}a`, "10");
    await store.delete(`${PREFIX}b`);
    await store.put(`${PREFIX}c`, "oops");
    await store.put("/other/y", "9");
    await settle();
    expect(changes).toEqual(["a: 1 -> 10", "b: 2 -> -"]);
    expect(invalid).toEqual(["c: not a number: oops"]);
    expect(values()).toEqual({ a: 10 });
  });

  it("keeps only the values it selects, and lists the keys that do not decode until they are fixed or gone", async () => {
    await store.put(`${PREFIX}small`, "1");
    await store.put(`${PREFIX}big`, "100");
    await store.put(`${PREFIX}bad`, "x");
    const inf = new Informer<number>({
      store,
      clock,
      logger: silentLogger,
      collection: { kind: "number", prefix: PREFIX, decode },
      select: (n) => n < 10,
      onChange: (name, next, previous) =>
        changes.push(`${name}: ${previous?.value ?? "-"} -> ${next?.value ?? "-"}`),
    });
    informer = inf;
    await inf.start();
    expect(values()).toEqual({ small: 1 });
    expect([...inf.invalidEntries().keys()]).toEqual(["bad"]);
    // Moving out of the selection is a removal; into it, an addition.
    await store.put(`${PREFIX}small`, "50");
    await store.put(`${PREFIX}big`, "5");
    await store.put(`${PREFIX}bad`, "200");
    await settle();
    expect(changes).toEqual(["small: 1 -> -", "big: - -> 5"]);
    expect(values()).toEqual({ big: 5 });
    expect(inf.invalidEntries().size).toBe(0);
    await store.put(`${PREFIX}worse`, "y");
    await store.delete(`${PREFIX}worse`);
    await settle();
    expect(inf.invalidEntries().size).toBe(0);
  });

  it("takes in the owner's own write at once, and the same write's watch event or an older one changes nothing", async () => {
    const inf = await start();
    // The owner writes, and observes before its watch event arrives.
    const revision = await store.put(`${PREFIX}a`, "5");
    inf.observe({
      key: `${PREFIX}a`,
      value: "5",
      modRevision: revision,
      createRevision: revision,
      version: 1,
      lease: 0,
    });
    expect(inf.get("a")?.value).toBe(5);
    await settle();
    expect(changes).toEqual(["a: - -> 5"]);
    // A lagging watch's older event for the key (revision 1) is not taken.
    inf.observe({
      key: `${PREFIX}a`,
      value: "4",
      modRevision: revision - 1,
      createRevision: 1,
      version: 1,
      lease: 0,
    });
    expect(inf.get("a")?.value).toBe(5);
  });

  it("keeps a key the owner deleted itself gone, though a lagging watch still brings an older put of it", async () => {
    const b = breakableWatches(store);
    const inf = await start(b.store);
    b.breakAll();
    await settle();
    // Written while the watch is down: a put, then the owner's own delete.
    await store.put(`${PREFIX}vm`, "1");
    const deletedAt = await store.delete(`${PREFIX}vm`);
    inf.observe({
      key: `${PREFIX}vm`,
      value: "1",
      modRevision: deletedAt - 1,
      createRevision: 1,
      version: 1,
      lease: 0,
    });
    inf.observeDelete(`${PREFIX}vm`, deletedAt);
    expect(inf.get("vm")).toBeUndefined();
    // The resumed watch replays the put (older than the delete) before the delete itself.
    clock.advance(1_000);
    await settle();
    expect(inf.get("vm")).toBeUndefined();
    expect(changes).toEqual(["vm: - -> 1", "vm: 1 -> -"]);
    // Once the watch has passed the delete, the key may come back with a newer write.
    await store.put(`${PREFIX}vm`, "2");
    await settle();
    expect(inf.get("vm")?.value).toBe(2);
  });

  it("resumes a broken watch from the revision after its last batch, after a backoff, missing nothing", async () => {
    const b = breakableWatches(store);
    await start(b.store);
    await store.put(`${PREFIX}a`, "1");
    await settle();
    b.breakAll();
    await settle();
    // Written while nobody watches.
    await store.put(`${PREFIX}a`, "2");
    await store.put(`${PREFIX}b`, "3");
    const opened = b.opened();
    clock.advance(999);
    await settle();
    expect(b.opened()).toBe(opened);
    clock.advance(1);
    await settle();
    expect(b.opened()).toBe(opened + 1);
    expect(values()).toEqual({ a: 2, b: 3 });
    expect(changes).toEqual(["a: - -> 1", "a: 1 -> 2", "b: - -> 3"]);
    // Resumed, not listed again.
    expect(resets).toHaveLength(1);
  });

  it("lists again when the revision to resume from was compacted away, and the owner gets the new whole set", async () => {
    const b = breakableWatches(store);
    await store.put(`${PREFIX}gone`, "1");
    await start(b.store);
    b.breakAll();
    await settle();
    await store.delete(`${PREFIX}gone`);
    await store.put(`${PREFIX}new`, "7");
    await store.compact(await store.revision());
    clock.advance(1_000);
    await settle();
    // The resume failed (COMPACTED), and it listed again at once: compaction is no fault.
    expect(resets).toHaveLength(2);
    expect(resets[1]).toMatch(/: new=7$/);
    expect(values()).toEqual({ new: 7 });
    await store.put(`${PREFIX}new`, "8");
    await settle();
    expect(values()).toEqual({ new: 8 });
  });

  it("backs off when compaction overtakes its watch again right after it listed again, instead of listing in a loop", async () => {
    const behind = behindCompaction(store);
    behind.behind(3);
    await start(behind.store);
    await settle();
    // Behind once: listed again at once. Behind again before a batch came: a backoff of 1 s, then 2 s.
    const listsAfter: [number, number][] = [];
    for (const wait of [0, 999, 1, 2_000]) {
      clock.advance(wait);
      await settle();
      listsAfter.push([wait, resets.length]);
    }
    expect(listsAfter).toEqual([
      [0, 2],
      [999, 2],
      [1, 3],
      [2_000, 4],
    ]);
    expect(behind.compacted).toBe(3);
    await store.put(`${PREFIX}a`, "1");
    await settle();
    expect(values()).toEqual({ a: 1 });
  });

  it("backs off while the store fails, doubling up to the cap, and starts over once a watch delivers", async () => {
    let failing = false;
    const b = breakableWatches(store);
    const flaky = new Proxy(b.store, {
      get(target, prop, receiver) {
        if (prop === "range" && failing) return async () => Promise.reject(new Error("store down"));
        return Reflect.get(target, prop, receiver);
      },
    });
    await start(flaky);
    failing = true;
    b.breakAll();
    await settle();
    await store.put(`${PREFIX}x`, "0");
    await store.put(`${PREFIX}x`, "1");
    await store.compact(await store.revision());
    // Resume at 1 s fails (compacted), then lists fail at 2 s, 4 s, 8 s: 15 s in all, not a hot loop.
    for (const wait of [1_000, 2_000, 4_000, 8_000]) {
      clock.advance(wait);
      await settle();
    }
    expect(resets).toHaveLength(1);
    failing = false;
    clock.advance(15_999);
    await settle();
    expect(resets).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(resets).toHaveLength(2);
    expect(values()).toEqual({ x: 1 });
  });

  it("recovers when opening the watch itself throws, as a store that is unreachable does (found by the simulator)", async () => {
    const b = breakableWatches(store);
    let throwing = false;
    const down = new Proxy(b.store, {
      get(target, prop, receiver) {
        if (prop === "watch" && throwing)
          return () => {
            throw new Error("store unreachable");
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    await start(down);
    throwing = true;
    b.breakAll();
    await settle();
    await store.put(`${PREFIX}a`, "1");
    clock.advance(1_000);
    await settle();
    throwing = false;
    clock.advance(2_000);
    await settle();
    expect(values()).toEqual({ a: 1 });
  });

  it("stops: no more changes, an empty cache, and no watch left open", async () => {
    const b = breakableWatches(store);
    const inf = await start(b.store);
    await store.put(`${PREFIX}a`, "1");
    await settle();
    inf.stop();
    await store.put(`${PREFIX}a`, "2");
    await settle();
    expect(changes).toEqual(["a: - -> 1"]);
    expect(inf.ready).toBe(false);
    expect(inf.entries().size).toBe(0);
    expect(b.open()).toBe(0);
  });

  it("leaves no watch open when its owner fails to take in the first list", async () => {
    const b = breakableWatches(store);
    const failing = new Informer<number>({
      store: b.store,
      clock,
      logger: silentLogger,
      collection: { kind: "number", prefix: PREFIX, decode },
      onReset: () => Promise.reject(new Error("owner's reload failed")),
    });
    await expect(failing.start()).rejects.toThrow("owner's reload failed");
    await settle();
    expect(b.opened()).toBe(1);
    expect(b.open()).toBe(0);
    failing.stop();
  });

  it("resync lists again now, keeping an entry the owner observed after the list's read", async () => {
    let stale: Awaited<ReturnType<Store["range"]>> | undefined;
    const lagging = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "range" && stale) return async () => stale;
        return Reflect.get(target, prop, receiver);
      },
    });
    const inf = await start(lagging);
    // A read that a write of the owner's overtakes (a replica behind, or a slow reply).
    stale = await store.range(PREFIX);
    const revision = await store.put(`${PREFIX}a`, "5");
    inf.observe({
      key: `${PREFIX}a`,
      value: "5",
      modRevision: revision,
      createRevision: revision,
      version: 1,
      lease: 0,
    });
    await inf.resync();
    expect(values()).toEqual({ a: 5 });
    stale = undefined;
    await store.put(`${PREFIX}b`, "1");
    await inf.resync();
    expect(resets.at(-1)).toMatch(/: a=5,b=1$/);
  });
});
