/**
 * Every SQL statement the store runs, prepared once at open, with the row shapes they return and the
 * conversions from rows to the port's types. Keeping SQL here keeps the store logic free of it.
 */
import type Database from "better-sqlite3";
import type { KeyValue, WatchEvent } from "../../ports/store.js";

export interface KvRow {
  key: string;
  value: string;
  create_rev: number;
  mod_rev: number;
  version: number;
  lease: number;
}

export interface LogRow {
  rev: number;
  seq: number;
  type: "put" | "delete";
  key: string;
  value: string;
  create_rev: number;
  version: number;
  lease: number;
  prev_value: string | null;
  prev_create_rev: number | null;
  prev_mod_rev: number | null;
  prev_version: number | null;
  prev_lease: number | null;
}

export interface LeaseRow {
  id: number;
  ttl_seconds: number;
  expires_at: number;
}

export type MetaName = "revision" | "compact_revision" | "next_lease_id";

const KV_COLUMNS = "key, value, create_rev, mod_rev, version, lease";

export function prepareStatements(db: Database.Database) {
  return {
    getMeta: db.prepare<[MetaName], { value: number }>("SELECT value FROM meta WHERE name = ?"),
    setMeta: db.prepare<[number, MetaName]>("UPDATE meta SET value = ? WHERE name = ?"),

    getKv: db.prepare<[string], KvRow>(`SELECT ${KV_COLUMNS} FROM kv WHERE key = ?`),
    // LIMIT -1 means no limit in SQLite; the bounded and unbounded forms keep the index range scan.
    rangeKv: db.prepare<{ from: string; to: string; limit: number }, KvRow>(
      `SELECT ${KV_COLUMNS} FROM kv WHERE key >= @from AND key < @to ORDER BY key LIMIT @limit`,
    ),
    rangeKvFrom: db.prepare<{ from: string; limit: number }, KvRow>(
      `SELECT ${KV_COLUMNS} FROM kv WHERE key >= @from ORDER BY key LIMIT @limit`,
    ),
    kvByLease: db.prepare<[number], KvRow>(`SELECT ${KV_COLUMNS} FROM kv WHERE lease = ? ORDER BY key`),
    upsertKv: db.prepare<KvRow>(
      `INSERT INTO kv (${KV_COLUMNS}) VALUES (@key, @value, @create_rev, @mod_rev, @version, @lease)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev,
         version = excluded.version, lease = excluded.lease`,
    ),
    deleteKv: db.prepare<[string]>("DELETE FROM kv WHERE key = ?"),

    insertLog: db.prepare<LogRow>(
      `INSERT INTO log (rev, seq, type, key, value, create_rev, version, lease,
         prev_value, prev_create_rev, prev_mod_rev, prev_version, prev_lease)
       VALUES (@rev, @seq, @type, @key, @value, @create_rev, @version, @lease,
         @prev_value, @prev_create_rev, @prev_mod_rev, @prev_version, @prev_lease)`,
    ),
    logRange: db.prepare<{ fromRev: number; toRev: number; from: string; to: string }, LogRow>(
      `SELECT * FROM log WHERE rev >= @fromRev AND rev <= @toRev AND key >= @from AND key < @to
       ORDER BY rev, seq`,
    ),
    logRangeFrom: db.prepare<{ fromRev: number; toRev: number; from: string }, LogRow>(
      "SELECT * FROM log WHERE rev >= @fromRev AND rev <= @toRev AND key >= @from ORDER BY rev, seq",
    ),
    compactLog: db.prepare<[number]>("DELETE FROM log WHERE rev < ?"),

    getLease: db.prepare<[number], LeaseRow>("SELECT id, ttl_seconds, expires_at FROM leases WHERE id = ?"),
    insertLease: db.prepare<LeaseRow>(
      "INSERT INTO leases (id, ttl_seconds, expires_at) VALUES (@id, @ttl_seconds, @expires_at)",
    ),
    renewLease: db.prepare<[number, number]>("UPDATE leases SET expires_at = ? WHERE id = ?"),
    deleteLease: db.prepare<[number]>("DELETE FROM leases WHERE id = ?"),
    dueLeases: db.prepare<[number], { id: number }>(
      "SELECT id FROM leases WHERE expires_at <= ? ORDER BY expires_at, id",
    ),
    nextExpiry: db.prepare<[], { at: number | null }>("SELECT MIN(expires_at) AS at FROM leases"),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

export function toKeyValue(row: KvRow): KeyValue {
  return {
    key: row.key,
    value: row.value,
    createRevision: row.create_rev,
    modRevision: row.mod_rev,
    version: row.version,
    lease: row.lease,
  };
}

export function toLogRow(rev: number, seq: number, event: WatchEvent): LogRow {
  const { kv, prevKv } = event;
  return {
    rev,
    seq,
    type: event.type,
    key: kv.key,
    value: kv.value,
    create_rev: kv.createRevision,
    version: kv.version,
    lease: kv.lease,
    prev_value: prevKv?.value ?? null,
    prev_create_rev: prevKv?.createRevision ?? null,
    prev_mod_rev: prevKv?.modRevision ?? null,
    prev_version: prevKv?.version ?? null,
    prev_lease: prevKv?.lease ?? null,
  };
}

export function toWatchEvent(row: LogRow): WatchEvent {
  const kv: KeyValue = {
    key: row.key,
    value: row.value,
    createRevision: row.create_rev,
    modRevision: row.rev,
    version: row.version,
    lease: row.lease,
  };
  if (row.prev_value === null) return { type: row.type, kv };
  const prevKv: KeyValue = {
    key: row.key,
    value: row.prev_value,
    createRevision: row.prev_create_rev ?? 0,
    modRevision: row.prev_mod_rev ?? 0,
    version: row.prev_version ?? 0,
    lease: row.prev_lease ?? 0,
  };
  return { type: row.type, kv, prevKv };
}
