import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import { silentLogger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { behindCompaction } from "../testing/behind-compaction.js";
import { ManualClock } from "../testing/manual-clock.js";
import { LeaderElection, readLeader } from "./leader-election.js";

const TTL = 5;

describe("LeaderElection", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  const elections: LeaderElection[] = [];

  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number, step = 250) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  const candidate = (nodeId: string, events: string[] = [], on: Store = store) => {
    const e = new LeaderElection({
      store: on,
      clock,
      logger: silentLogger,
      nodeId,
      ttlSeconds: TTL,
      onElected: (t) => events.push(`elected ${t.fencingRevision}`),
      onDemoted: (r) => events.push(`demoted: ${r}`),
    });
    elections.push(e);
    return e;
  };

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
  });
  afterEach(async () => {
    for (const e of elections.splice(0)) e.abandon();
    await store.close();
  });

  it("elects exactly one leader among several candidates", async () => {
    const [a, b, c] = [candidate("a"), candidate("b"), candidate("c")];
    for (const e of [a, b, c]) e.start();
    await settle();
    expect([a, b, c].filter((e) => e.isLeader)).toHaveLength(1);
    expect((await readLeader(store))?.leader).toBe("a");
  });

  it("keeps the leader in office while it renews its lease", async () => {
    const a = candidate("a");
    const b = candidate("b");
    a.start();
    await settle();
    b.start();
    await advance(TTL * 4 * 1000);
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
  });

  it("hands over within the TTL when the leader dies, with a higher fencing revision", async () => {
    const a = candidate("a");
    const bEvents: string[] = [];
    const b = candidate("b", bEvents);
    a.start();
    await settle();
    b.start();
    await settle();
    const first = a.currentTerm!.fencingRevision;
    a.abandon();
    await advance(TTL * 1000 + 500);
    expect(b.isLeader).toBe(true);
    expect(b.currentTerm!.fencingRevision).toBeGreaterThan(first);
    expect(bEvents).toEqual([`elected ${b.currentTerm!.fencingRevision}`]);
  });

  it("hands over at once when the leader resigns", async () => {
    const a = candidate("a");
    const b = candidate("b");
    a.start();
    await settle();
    b.start();
    await settle();
    await a.resign();
    await settle();
    expect(b.isLeader).toBe(true);
  });

  // Either way a watch that failed with COMPACTED would leave b only polling after a pause: it would
  // notice the resignation half a second late instead of at once.
  it.each([
    {
      when: "the leader key is older than the compaction point",
      storeFor: async (): Promise<Store> => {
        // The leader key keeps the revision of its election while the store moves on and is compacted.
        for (let i = 0; i < 50; i++) await store.put("/other", `${i}`);
        await store.compact(await store.revision());
        return store;
      },
    },
    {
      when: "its watch fell behind compaction while it waited",
      storeFor: async (): Promise<Store> => {
        const behind = behindCompaction(store);
        behind.behind(1);
        return behind.store;
      },
    },
  ])("notices a resignation at once also when $when", async ({ storeFor }) => {
    const a = candidate("a");
    a.start();
    await settle();
    const b = candidate("b", [], await storeFor());
    b.start();
    await settle();
    // The compaction really happened before the resignation.
    expect((await store.status()).compactRevision).toBeGreaterThan(0);
    await a.resign();
    await settle();
    expect(b.isLeader).toBe(true);
  });

  it("fences a deposed leader's writes", async () => {
    const a = candidate("a");
    const b = candidate("b");
    a.start();
    await settle();
    b.start();
    await settle();
    const staleFence = a.fence();
    a.abandon();
    await advance(TTL * 1000 + 500);
    const stale = await store.txn({
      compare: [staleFence],
      success: [{ type: "put", key: "/x", value: "a" }],
    });
    expect(stale.succeeded).toBe(false);
    const fresh = await store.txn({
      compare: [b.fence()],
      success: [{ type: "put", key: "/x", value: "b" }],
    });
    expect(fresh.succeeded).toBe(true);
  });

  it("steps down when it cannot renew its lease in time", async () => {
    const events: string[] = [];
    const a = candidate("a", events);
    a.start();
    await settle();
    // Someone revokes the lease behind its back (as an expiry during a partition would).
    const leaderKv = await store.get(keys.leader);
    await store.revokeLease(leaderKv!.lease);
    await advance(TTL * 1000);
    expect(events[0]).toMatch(/^elected/);
    expect(events.some((e) => e.startsWith("demoted: lost the lease"))).toBe(true);
    // ...and campaigns again, winning a new term.
    await advance(1000);
    expect(a.isLeader).toBe(true);
  });
});
