import { describe, expect, it } from "vitest";
import type { Store, WatchBatch } from "../../ports/store.js";
import { ManualClock } from "../../testing/manual-clock.js";
import { runStoreContract, type StoreHarness } from "../store.contract.js";
import { MemoryStore } from "./memory-store.js";

/** Advances virtual time, then lets everything the fired timers started settle. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await new Promise((resolve) => setImmediate(resolve));
}

// No reopen: a memory store has nothing to reopen from, so the contract's reopen tests skip themselves
// ("the harness cannot reopen its store"); the simulator models lost connections with FaultyStore.
async function harness(): Promise<StoreHarness> {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  return { store, passTime: (ms) => advance(clock, ms), cleanup: () => store.close() };
}

runStoreContract("memory (no reopen)", harness);

/** A scripted run that touches every part of the store; returns everything it observed. */
async function script(): Promise<unknown[]> {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const seen: unknown[] = [];
  const record = async (what: string, call: () => Promise<unknown>) => {
    try {
      seen.push([what, await call()]);
    } catch (err) {
      seen.push([what, "error", (err as { code?: string }).code]);
    }
  };
  const watched: WatchBatch[] = [];
  const watch = store.watch("/", { fromRevision: 1 });
  const pump = (async () => {
    for await (const batch of watch) watched.push(batch);
  })();

  const a = await store.grantLease(2);
  const b = await store.grantLease(5);
  seen.push(["leases", a, b]);
  await record("put leased", () => store.put("/n/a", "1", { lease: a.id }));
  await record("put leased b", () => store.put("/n/b", "1", { lease: b.id }));
  await record("put emoji", () => store.put("/k/😀", "x"));
  await record("put fffd", () => store.put("/k/\uFFFD", "y"));
  await record("racing txns", () =>
    Promise.all(
      ["first", "second"].map((value) =>
        store.txn({
          compare: [{ key: "/k/leader", target: "createRevision", op: "=", value: 0 }],
          success: [{ type: "put", key: "/k/leader", value }],
          failure: [{ type: "delete", key: "/k/\uFFFD" }],
        }),
      ),
    ),
  );
  await record("range limit", () => store.range("/", { limit: 2 }));
  await advance(clock, 1500);
  await record("keepAlive a", () => store.keepAlive(a.id));
  await advance(clock, 2500);
  await record("after a expired", () => store.range("/n/"));
  await record("keepAlive expired", () => store.keepAlive(a.id));
  await record("deletePrefix", () =>
    store.txn({ compare: [], success: [{ type: "deletePrefix", prefix: "/k/" }] }),
  );
  await advance(clock, 2000);
  await record("compact", async () => store.compact((await store.revision()) - 1));
  await record("watch compacted", () => store.watch("/", { fromRevision: 2 })[Symbol.asyncIterator]().next());
  seen.push(["snapshot", store.snapshot()]);
  await store.close();
  await pump;
  seen.push(["watched", watched]);
  return seen;
}

/** True if `promise` settles while only microtasks run: no timer, I/O or setImmediate can interleave. */
async function settlesInMicrotasks(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let turn = 0; turn < 10 && !settled; turn++) await Promise.resolve();
  return settled;
}

describe("MemoryStore", () => {
  const withStore = (test: (store: MemoryStore, clock: ManualClock) => Promise<void>) => async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    try {
      await test(store, clock);
    } finally {
      await store.close();
    }
  };

  it("gives identical results and watch events for the same calls and clock advances", async () => {
    const first = await script();
    const second = await script();
    expect(second).toEqual(first);
    // The script really exercised expiry and the watch: check a few landmarks, not just equality.
    expect(first).toContainEqual(["keepAlive expired", "error", "LEASE_NOT_FOUND"]);
    expect(first).toContainEqual(["watch compacted", "error", "COMPACTED"]);
    const watched = (
      first.find((entry) => (entry as unknown[])[0] === "watched") as [string, WatchBatch[]]
    )[1];
    expect(watched.flatMap((batch) => batch.events.map((e) => [e.type, e.kv.key]))).toContainEqual([
      "delete",
      "/n/b",
    ]);
  });

  it(
    "settles every call within a few microtask turns, with no timer or I/O in between",
    withStore(async (store, clock) => {
      const fromRevision = (await store.revision()) + 1;
      const batch = store.watch("/", { fromRevision })[Symbol.asyncIterator]().next();
      const lease = await store.grantLease(5);
      const calls: Array<Promise<unknown>> = [
        store.put("/a", "1", { lease: lease.id }),
        store.txn({ compare: [], success: [{ type: "delete", key: "/a" }] }),
        store.range("/"),
        store.get("/a"),
        store.keepAlive(lease.id),
        store.put("/b", "1", { lease: 987 }).catch((err: unknown) => err),
        batch,
      ];
      for (const call of calls) expect(await settlesInMicrotasks(call)).toBe(true);
      expect((await batch).value).toMatchObject({ revision: fromRevision });
      expect(clock.pending()).toBe(1);
    }),
  );

  it(
    "arms one timer only while a lease exists, and none after close",
    withStore(async (store, clock) => {
      const lease = await store.grantLease(5);
      await store.grantLease(7);
      expect(clock.pending()).toBe(1);
      await store.keepAlive(lease.id);
      expect(clock.pending()).toBe(1);
      await store.close();
      expect(clock.pending()).toBe(0);
    }),
  );

  it(
    "hands out copies, so a caller that mutates a result cannot change the store",
    withStore(async (store) => {
      await store.put("/a", "1");
      const kv = (await store.get("/a"))!;
      kv.value = "mutated";
      (await store.range("/")).kvs[0]!.version = 99;
      expect(await store.get("/a")).toMatchObject({ value: "1", version: 1 });
      expect(store.snapshot().kvs.get("/a")).toMatchObject({ value: "1", version: 1 });
    }),
  );

  it(
    "snapshots the keys in byte order and the leases with their keys",
    withStore(async (store, clock) => {
      const lease = await store.grantLease(10);
      await store.put("/k/😀", "e", { lease: lease.id });
      await store.put("/k/\uFFFD", "f", { lease: lease.id });
      await store.put("/k/a", "a");
      const snapshot = store.snapshot();
      expect([...snapshot.kvs.keys()]).toEqual(["/k/a", "/k/\uFFFD", "/k/😀"]);
      expect(snapshot).toMatchObject({ revision: 4, compactRevision: 0, closed: false });
      expect(snapshot.leases).toEqual([
        { id: lease.id, ttlSeconds: 10, expiresAt: clock.now() + 10_000, keys: ["/k/\uFFFD", "/k/😀"] },
      ]);
      await store.put("/k/a", "changed");
      expect(snapshot.kvs.get("/k/a")?.value).toBe("a");
    }),
  );

  it(
    "throws UNAVAILABLE from watch once closed",
    withStore(async (store: Store) => {
      await store.close();
      expect(() => store.watch("/", { fromRevision: 1 })).toThrow(
        expect.objectContaining({ code: "UNAVAILABLE" }),
      );
    }),
  );
});
