/**
 * The write path of the SQLite store: evaluating compares and applying puts and deletes at one revision.
 * Every function here runs inside the caller's SQLite transaction and returns the watch events it
 * produced; the caller records them and publishes them once the transaction has committed.
 */
import type { Compare, TxnOp, WatchEvent } from "../../ports/store.js";
import { compareHolds as holds } from "../shared/store-compare.js";
import { deletionKv } from "../shared/watch-stream.js";
import { prefixEnd } from "./prefix-range.js";
import { type KvRow, type Statements, toKeyValue, toLogRow } from "./statements.js";

/** Keys under a prefix in key order; limit 0 means all. */
export function rangeRows(s: Statements, prefix: string, limit: number): KvRow[] {
  const to = prefixEnd(prefix);
  const sqlLimit = limit > 0 ? limit : -1;
  return to === undefined
    ? s.rangeKvFrom.all({ from: prefix, limit: sqlLimit })
    : s.rangeKv.all({ from: prefix, to, limit: sqlLimit });
}

export function compareHolds(s: Statements, compare: Compare): boolean {
  const row = s.getKv.get(compare.key);
  // A missing key has 0 for every field, which makes "createRevision = 0" mean "does not exist".
  const actual =
    row === undefined
      ? 0
      : compare.target === "modRevision"
        ? row.mod_rev
        : compare.target === "createRevision"
          ? row.create_rev
          : row.version;
  return holds(actual, compare.op, compare.value);
}

function putKey(s: Statements, key: string, value: string, lease: number, rev: number): WatchEvent {
  const prev = s.getKv.get(key);
  const row: KvRow = {
    key,
    value,
    create_rev: prev?.create_rev ?? rev,
    mod_rev: rev,
    version: (prev?.version ?? 0) + 1,
    lease,
  };
  s.upsertKv.run(row);
  return prev === undefined
    ? { type: "put", kv: toKeyValue(row) }
    : { type: "put", kv: toKeyValue(row), prevKv: toKeyValue(prev) };
}

function deleteKey(s: Statements, prev: KvRow, rev: number): WatchEvent {
  s.deleteKv.run(prev.key);
  return { type: "delete", kv: deletionKv(prev.key, rev), prevKv: toKeyValue(prev) };
}

export function applyOps(s: Statements, ops: readonly TxnOp[], rev: number): WatchEvent[] {
  const events: WatchEvent[] = [];
  for (const op of ops) {
    if (op.type === "put") {
      events.push(putKey(s, op.key, op.value, op.lease ?? 0, rev));
    } else if (op.type === "delete") {
      const prev = s.getKv.get(op.key);
      if (prev !== undefined) events.push(deleteKey(s, prev, rev));
    } else {
      for (const prev of rangeRows(s, op.prefix, 0)) events.push(deleteKey(s, prev, rev));
    }
  }
  return events;
}

/** Deletes a lease and the keys bound to it, as one revision. */
export function dropLease(s: Statements, leaseId: number, rev: number): WatchEvent[] {
  const events = s.kvByLease.all(leaseId).map((prev) => deleteKey(s, prev, rev));
  s.deleteLease.run(leaseId);
  return events;
}

/** Makes `rev` the store revision and logs its events; a write that changed nothing takes no revision. */
export function recordRevision(s: Statements, rev: number, events: readonly WatchEvent[]): void {
  if (events.length === 0) return;
  events.forEach((event, seq) => {
    s.insertLog.run(toLogRow(rev, seq, event));
  });
  s.setMeta.run(rev, "revision");
}
