import { describe, expect, it } from "vitest";
import type { TxnRequest } from "../../ports/store.js";
import { merge, mergeable, takeBatch, type Waiting } from "./txn-batch.js";

const waiting = (request: TxnRequest): Waiting => ({ request, resolve: () => {}, reject: () => {} });
const create = (key: string, value = "v"): TxnRequest => ({
  compare: [{ key, target: "createRevision", op: "=", value: 0 }],
  success: [{ type: "put", key, value }],
});
const limits = { maxOps: 128, maxBytes: 1 << 20 };
const keysOf = (batch: Waiting[]) =>
  batch.map((w) => w.request.success.map((op) => ("key" in op ? op.key : "")));

describe("takeBatch", () => {
  it("takes every waiting transaction on disjoint keys, and leaves none behind", () => {
    const queue = ["/a", "/b", "/c"].map((k) => waiting(create(k)));
    expect(keysOf(takeBatch(queue, limits))).toEqual([["/a"], ["/b"], ["/c"]]);
    expect(queue).toEqual([]);
  });

  it("leaves behind a transaction that writes a key another compares, and everything after it on its keys", () => {
    const first: TxnRequest = {
      compare: [{ key: "/a", target: "modRevision", op: "=", value: 3 }],
      success: [{ type: "put", key: "/b", value: "x" }],
    };
    const writesA = create("/a");
    const comparesB: TxnRequest = {
      compare: [{ key: "/b", target: "version", op: "=", value: 1 }],
      success: [{ type: "put", key: "/z", value: "x" }],
    };
    // Free of the batch, but it writes /a, which the one left behind (writesA) writes too: order kept.
    const againA: TxnRequest = { compare: [], success: [{ type: "delete", key: "/a" }] };
    const other = create("/c");
    const queue = [first, writesA, comparesB, againA, other].map(waiting);
    const batch = takeBatch(queue, limits);
    expect(batch.map((w) => w.request)).toEqual([first, other]);
    expect(queue.map((w) => w.request)).toEqual([writesA, comparesB, againA]);
    // The next batch: writesA and comparesB are disjoint; againA still waits behind writesA.
    expect(takeBatch(queue, limits).map((w) => w.request)).toEqual([writesA, comparesB]);
    expect(queue.map((w) => w.request)).toEqual([againA]);
  });

  it("lets transactions share keys they only compare (the leader's fence)", () => {
    const fenced = (key: string): TxnRequest => ({
      compare: [{ key: "/leader", target: "createRevision", op: "=", value: 7 }],
      success: [{ type: "put", key, value: "x" }],
    });
    const queue = [fenced("/a"), fenced("/b")].map(waiting);
    expect(takeBatch(queue, limits)).toHaveLength(2);
  });

  it("stops at the operation and byte limits, but always takes the first", () => {
    const queue = ["/a", "/b", "/c", "/d"].map((k) => waiting(create(k)));
    expect(takeBatch(queue, { maxOps: 2, maxBytes: 1 << 20 })).toHaveLength(2);
    expect(queue).toHaveLength(2);
    const big = [waiting(create("/big", "x".repeat(100))), waiting(create("/small"))];
    expect(takeBatch(big, { maxOps: 128, maxBytes: 50 })).toHaveLength(1);
    expect(big).toHaveLength(1);
  });
});

describe("mergeable", () => {
  it("keeps failure branches, leases and prefix deletes out of batches", () => {
    expect(mergeable(create("/a"))).toBe(true);
    expect(mergeable({ ...create("/a"), failure: [{ type: "delete", key: "/a" }] })).toBe(false);
    expect(mergeable({ compare: [], success: [{ type: "put", key: "/a", value: "", lease: 5 }] })).toBe(
      false,
    );
    expect(mergeable({ compare: [], success: [{ type: "deletePrefix", prefix: "/a/" }] })).toBe(false);
  });
});

describe("merge", () => {
  it("carries every compare and write, and confirms the quorum if any part asked", () => {
    const merged = merge([waiting(create("/a")), waiting({ ...create("/b"), confirmQuorum: true })]);
    expect(merged.compare.map((c) => c.key)).toEqual(["/a", "/b"]);
    expect(merged.success.map((op) => ("key" in op ? op.key : ""))).toEqual(["/a", "/b"]);
    expect(merged.confirmQuorum).toBe(true);
  });
});
