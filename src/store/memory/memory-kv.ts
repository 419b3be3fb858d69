/**
 * The key table of the memory store: current values in key order, which keys each lease holds, and
 * the write path that turns puts and deletes into watch events. Entries are frozen, so events, the
 * revision log and snapshots can share them; callers of the store get copies (copyKv;
 * watches copy their events in shared/watch-stream.ts).
 */
import type { Compare, KeyValue, TxnOp, WatchEvent } from "../../ports/store.js";
import { compareHolds as holds } from "../shared/store-compare.js";
import { deletionKv } from "../shared/watch-stream.js";
import { compareKeys, SortedKeys } from "./memory-keys.js";

export function copyKv(kv: KeyValue): KeyValue {
  return { ...kv };
}

export class MemoryKv {
  private readonly entries = new Map<string, KeyValue>();
  private readonly order = new SortedKeys();
  /** Lease id to the keys bound to it; a lease without keys has no entry. */
  private readonly byLease = new Map<number, Set<string>>();

  get(key: string): KeyValue | undefined {
    return this.entries.get(key);
  }

  /** The entries under `prefix` in key order, at most `limit` of them (0 means all). */
  range(prefix: string, limit = 0): KeyValue[] {
    return this.order.withPrefix(prefix, limit).map((key) => this.entries.get(key)!);
  }

  /** Every entry in key order, for snapshots. */
  all(): KeyValue[] {
    return this.range("");
  }

  /** The keys bound to a lease, in key order. */
  keysOfLease(leaseId: number): string[] {
    return [...(this.byLease.get(leaseId) ?? [])].sort(compareKeys);
  }

  /** A missing key has 0 for every field, which makes "createRevision = 0" mean "does not exist". */
  compareHolds(compare: Compare): boolean {
    return holds(this.entries.get(compare.key)?.[compare.target] ?? 0, compare.op, compare.value);
  }

  /** Applies a branch at revision `rev`; the caller has checked that its leases exist. */
  apply(ops: readonly TxnOp[], rev: number): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const op of ops) {
      if (op.type === "put") {
        events.push(this.put(op.key, op.value, op.lease ?? 0, rev));
      } else if (op.type === "delete") {
        const event = this.delete(op.key, rev);
        if (event !== undefined) events.push(event);
      } else {
        for (const key of this.order.withPrefix(op.prefix)) events.push(this.delete(key, rev)!);
      }
    }
    return events;
  }

  /** Deletes the keys bound to a lease, in key order, at revision `rev`. */
  dropLease(leaseId: number, rev: number): WatchEvent[] {
    return this.keysOfLease(leaseId).map((key) => this.delete(key, rev)!);
  }

  private put(key: string, value: string, lease: number, rev: number): WatchEvent {
    const prev = this.entries.get(key);
    const kv: KeyValue = Object.freeze({
      key,
      value,
      createRevision: prev?.createRevision ?? rev,
      modRevision: rev,
      version: (prev?.version ?? 0) + 1,
      lease,
    });
    if (prev === undefined) this.order.add(key);
    else this.unbind(prev);
    this.entries.set(key, kv);
    this.bind(kv);
    return prev === undefined ? { type: "put", kv } : { type: "put", kv, prevKv: prev };
  }

  private delete(key: string, rev: number): WatchEvent | undefined {
    const prev = this.entries.get(key);
    if (prev === undefined) return undefined;
    this.entries.delete(key);
    this.order.remove(key);
    this.unbind(prev);
    return { type: "delete", kv: Object.freeze(deletionKv(key, rev)), prevKv: prev };
  }

  private bind(kv: KeyValue): void {
    if (kv.lease === 0) return;
    const keys = this.byLease.get(kv.lease);
    if (keys === undefined) this.byLease.set(kv.lease, new Set([kv.key]));
    else keys.add(kv.key);
  }

  private unbind(kv: KeyValue): void {
    const keys = this.byLease.get(kv.lease);
    if (keys === undefined) return;
    keys.delete(kv.key);
    if (keys.size === 0) this.byLease.delete(kv.lease);
  }
}
