/**
 * The write path of the SQLite store: evaluating compares and applying puts and deletes at one revision.
 * Every function here runs inside the caller's SQLite transaction and returns the watch events it
 * produced; the caller records them and publishes them once the transaction has committed.
 */
import { BlixardError } from "../../core/errors.js";
import type { Compare, KeyValue, TxnOp, WatchEvent } from "../../ports/store.js";
import { compareHolds as holds } from "../shared/store-compare.js";
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

/** Fails the whole transaction before it writes anything if a put names a lease that does not exist. */
export function checkLeasesExist(s: Statements, ops: readonly TxnOp[]): void {
  for (const op of ops) {
    if (op.type !== "put" || !op.lease) continue;
    if (s.getLease.get(op.lease) === undefined) {
      throw new BlixardError(
        "LEASE_NOT_FOUND",
        `cannot put ${JSON.stringify(op.key)} with lease ${op.lease}: the lease has expired or was never ` +
          "granted; grant a new lease and put the key again",
      );
    }
  }
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
  const kv: KeyValue = {
    key: prev.key,
    value: "",
    createRevision: 0,
    modRevision: rev,
    version: 0,
    lease: 0,
  };
  return { type: "delete", kv, prevKv: toKeyValue(prev) };
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
