import { describe, expect, it } from "vitest";
import type { TxnRequest, TxnResult } from "../../ports/store.js";
import { ManualClock } from "../../testing/manual-clock.js";
import { MemoryStore } from "../memory/memory-store.js";
import { runStoreContract, type StoreHarness } from "../store.contract.js";
import { GroupCommitStore } from "./group-commit-store.js";

async function harness(): Promise<StoreHarness> {
  const clock = new ManualClock();
  const inner = new MemoryStore({ clock });
  const store = new GroupCommitStore(inner);
  const passTime = async (ms: number) => {
    clock.advance(ms);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { store, passTime, cleanup: () => store.close() };
}

runStoreContract("group commit over memory (no reopen)", harness);

/** A memory store that records the transactions it is sent, and can be told to fail them. */
function recording() {
  const inner = new MemoryStore({ clock: new ManualClock() });
  const sent: TxnRequest[] = [];
  let failure: Error | undefined;
  const txn = inner.txn.bind(inner);
  inner.txn = async (request: TxnRequest): Promise<TxnResult> => {
    sent.push(request);
    if (failure) throw failure;
    return txn(request);
  };
  return {
    inner,
    sent,
    fail(err: Error | undefined) {
      failure = err;
    },
  };
}

const create = (key: string): TxnRequest => ({
  compare: [{ key, target: "createRevision", op: "=", value: 0 }],
  success: [{ type: "put", key, value: key }],
});

describe("GroupCommitStore", () => {
  it("sends a lone transaction at once, and those that wait behind it as one", async () => {
    const { inner, sent } = recording();
    const store = new GroupCommitStore(inner);
    const keys = Array.from({ length: 20 }, (_, i) => `/vm/${i}`);
    const results = await Promise.all(keys.map((key) => store.txn(create(key))));
    expect(results.every((r) => r.succeeded)).toBe(true);
    expect(sent.map((request) => request.success.length)).toEqual([1, 19]);
    // The 19 share one revision: one transaction wrote them.
    expect(new Set(results.slice(1).map((r) => r.revision)).size).toBe(1);
    for (const key of keys) expect((await store.get(key))?.value).toBe(key);
    expect(store.stats).toEqual({ requested: 20, sent: 2, split: 0 });
  });

  it("retries the parts of a merged transaction alone when one compare fails: each gets its own outcome", async () => {
    const { inner, sent } = recording();
    const store = new GroupCommitStore(inner);
    await store.put("/vm/taken", "someone");
    sent.length = 0;
    const first = store.txn(create("/vm/0"));
    const batch = ["/vm/1", "/vm/taken", "/vm/2"].map((key) => store.txn(create(key)));
    expect((await first).succeeded).toBe(true);
    const outcomes = (await Promise.all(batch)).map((r) => r.succeeded);
    expect(outcomes).toEqual([true, false, true]);
    expect((await store.get("/vm/taken"))?.value).toBe("someone");
    expect((await store.get("/vm/1"))?.value).toBe("/vm/1");
    // first, the merged three (refused whole), then each of the three alone.
    expect(sent.map((r) => r.success.length)).toEqual([1, 3, 1, 1, 1]);
    expect(store.stats.split).toBe(1);
  });

  it("applies two compare-and-swaps on one key in order, as if sent one after the other", async () => {
    const store = new GroupCommitStore(new MemoryStore({ clock: new ManualClock() }));
    const revision = await store.put("/vm/a", "v1");
    const cas = (value: string): TxnRequest => ({
      compare: [{ key: "/vm/a", target: "modRevision", op: "=", value: revision }],
      success: [{ type: "put", key: "/vm/a", value }],
    });
    const blocker = store.txn(create("/other"));
    const [x, y] = await Promise.all([store.txn(cas("x")), store.txn(cas("y")), blocker]);
    expect([x.succeeded, y.succeeded]).toEqual([true, false]);
    expect((await store.get("/vm/a"))?.value).toBe("x");
  });

  it("gives every part of a merged transaction the error the store answered with", async () => {
    const { inner, sent, fail } = recording();
    const store = new GroupCommitStore(inner);
    fail(new Error("store unreachable"));
    const first = store.txn(create("/a"));
    const rest = ["/b", "/c"].map((key) => store.txn(create(key)));
    await expect(first).rejects.toThrow("store unreachable");
    for (const r of rest) await expect(r).rejects.toThrow("store unreachable");
    expect(sent.map((r) => r.success.length)).toEqual([1, 2]);
    fail(undefined);
    expect((await store.txn(create("/d"))).succeeded).toBe(true);
  });

  it("refuses a malformed transaction alone, without failing those waiting with it", async () => {
    const { inner, sent } = recording();
    const store = new GroupCommitStore(inner);
    const first = store.txn(create("/a"));
    const bad = store.txn({ compare: [], success: [{ type: "put", key: "", value: "x" }] });
    const good = store.txn(create("/b"));
    await expect(bad).rejects.toThrow();
    expect((await first).succeeded).toBe(true);
    expect((await good).succeeded).toBe(true);
    expect(sent.flatMap((r) => r.success.map((op) => ("key" in op ? op.key : "")))).toEqual(["/a", "/b"]);
  });
});
