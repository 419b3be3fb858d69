import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../testing/manual-clock.js";
import { WatchReader } from "../contract/context.contract.js";
import { type CompactableStore, SqliteCompactor } from "./sqlite-compactor.js";
import { SqliteStore } from "./sqlite-store.js";

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

async function setup(retainRevisions = 100, intervalMs = 60_000) {
  const clock = new ManualClock();
  const store = await SqliteStore.open({ path: ":memory:", clock });
  const compactor = new SqliteCompactor({ store, clock, intervalMs, retainRevisions });
  return { clock, store, compactor };
}

describe("SqliteCompactor", () => {
  it("compacts to the last N revisions once per interval of the clock", async () => {
    const { clock, store, compactor } = await setup(100);
    for (let i = 0; i < 300; i++) await store.put(`/k/${i % 5}`, `${i}`);
    compactor.start();
    clock.advance(59_999);
    await settle();
    expect((await store.status()).compactRevision).toBe(0);
    clock.advance(1);
    await settle();
    expect(await store.status()).toMatchObject({ revision: 301, compactRevision: 201 });
    for (let i = 0; i < 50; i++) await store.put("/k/0", `${i}`);
    clock.advance(60_000);
    await settle();
    expect((await store.status()).compactRevision).toBe(251);
    expect(compactor.stats).toMatchObject({ compactions: 2, failures: 0 });
    await compactor.stop();
    await store.close();
  });

  it("leaves a history shorter than the retention alone", async () => {
    const { store, compactor } = await setup(100);
    for (let i = 0; i < 100; i++) await store.put("/k", `${i}`);
    expect(await compactor.compactOnce()).toBeUndefined();
    expect((await store.status()).compactRevision).toBe(0);
    await store.put("/k", "one more");
    expect(await compactor.compactOnce()).toBe(2);
    expect(compactor.stats.compactions).toBe(1);
    await store.close();
  });

  it("empties the WAL at every pass, also when the history is too short to compact", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blixard-compactor-"));
    const clock = new ManualClock();
    const store = await SqliteStore.open({ path: join(dir, "store.db"), clock });
    const compactor = new SqliteCompactor({ store, clock, intervalMs: 1000, retainRevisions: 10_000 });
    try {
      // Lease renewals write without a new revision, as an idle node's heartbeat does.
      const lease = await store.grantLease(60);
      for (let i = 0; i < 200; i++) await store.keepAlive(lease.id);
      expect((await store.status()).bytes.wal).toBeGreaterThan(0);
      expect(await compactor.compactOnce()).toBeUndefined();
      expect((await store.status()).bytes.wal).toBe(0);
      expect(compactor.stats.reclaimedBytes).toBeGreaterThan(0);
      expect(compactor.stats.compactions).toBe(0);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails a watch that fell behind the compaction point with COMPACTED; a re-list and a new watch recover", async () => {
    const { clock, store, compactor } = await setup(10, 1000);
    const start = (await store.revision()) + 1;
    for (let i = 0; i < 600; i++) await store.put(`/vms/${i % 3}`, `${i}`);
    // A consumer that is replaying the history, and slowly: it has read one batch of 600.
    const behind = new WatchReader(store.watch("/vms/", { fromRevision: start }));
    await behind.next();
    compactor.start();
    clock.advance(1000);
    await settle();
    await expect(behind.events(600)).rejects.toMatchObject({ code: "COMPACTED" });
    // What every list-watch loop does on COMPACTED: read the state, watch from the next revision.
    const { kvs, revision } = await store.range("/vms/");
    expect(kvs.map((kv) => kv.value)).toEqual(["597", "598", "599"]);
    const caughtUp = new WatchReader(store.watch("/vms/", { fromRevision: revision + 1 }));
    await store.put("/vms/0", "after");
    expect((await caughtUp.next()).events[0]?.kv.value).toBe("after");
    caughtUp.close();
    await compactor.stop();
    await store.close();
  });

  it("compacts and reclaims a long history in steps, letting the event loop run between them", async () => {
    const { store } = await setup();
    const value = "v".repeat(200);
    for (let i = 0; i < 25_000; i++) await store.put(`/k/${i % 50}`, `${i}${value}`);
    const calls: string[] = [];
    let turns = 0;
    const recording: CompactableStore = {
      status: () => store.status(),
      compact: (revision) => {
        calls.push(`compact ${revision}`);
        return store.compact(revision);
      },
      reclaimSpace: async (maxPages) => {
        const left = await store.reclaimSpace(maxPages);
        calls.push(left === 0 ? "reclaimed" : "reclaim step");
        return left;
      },
    };
    const compactor = new SqliteCompactor({
      store: recording,
      clock: new ManualClock(),
      intervalMs: 1000,
      retainRevisions: 100,
    });
    // Counts the turns of the event loop that other work (API requests, lease renewals) gets.
    let counting = true;
    const tick = () => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    expect(await compactor.compactOnce()).toBe(24_901);
    counting = false;
    expect(calls.slice(0, 3)).toEqual(["compact 10001", "compact 20001", "compact 24901"]);
    expect(calls.filter((c) => c === "reclaim step").length).toBeGreaterThan(0);
    expect(calls.at(-1)).toBe("reclaimed");
    expect(turns).toBeGreaterThanOrEqual(calls.length - 1);
    expect((await store.status()).compactRevision).toBe(24_901);
    await store.close();
  });

  it("counts a failed pass and tries again at the next interval", async () => {
    const { clock, store } = await setup();
    let failNext = true;
    const flaky: CompactableStore = {
      status: () => store.status(),
      reclaimSpace: (maxPages) => store.reclaimSpace(maxPages),
      compact: (revision) => {
        if (!failNext) return store.compact(revision);
        failNext = false;
        return Promise.reject(new Error("disk I/O error"));
      },
    };
    const compactor = new SqliteCompactor({ store: flaky, clock, intervalMs: 1000, retainRevisions: 5 });
    for (let i = 0; i < 20; i++) await store.put("/k", `${i}`);
    compactor.start();
    clock.advance(1000);
    await settle();
    expect(compactor.stats).toMatchObject({ compactions: 0, failures: 1 });
    clock.advance(1000);
    await settle();
    expect(compactor.stats).toMatchObject({ compactions: 1, failures: 1 });
    expect((await store.status()).compactRevision).toBe(16);
    await compactor.stop();
    await store.close();
  });

  it("arms no timer once stopped, so the node can exit", async () => {
    const { clock, store, compactor } = await setup();
    compactor.start();
    expect(clock.pending()).toBe(1);
    await compactor.stop();
    expect(clock.pending()).toBe(0);
    await store.close();
  });
});
