/**
 * The SQLite schema of the store, created or upgraded in one transaction at open. `user_version`
 * records the schema version, so a store written by a newer Blixard is refused instead of misread.
 */
import type Database from "better-sqlite3";
import { BlixardError } from "../../core/errors.js";

export const SCHEMA_VERSION = 1;

/** The first revision of an empty store, as in etcd: the first write gets revision 2. */
export const INITIAL_REVISION = 1;

const SCHEMA_V1 = `
  -- revision: the store revision; compact_revision: history before it is gone;
  -- next_lease_id: lease ids count up and are never reused, which keeps them deterministic.
  CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE kv (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev    INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    lease      INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX kv_by_lease ON kv (lease) WHERE lease <> 0;

  -- One row per changed key per revision, with the previous value inline, so that a watch can
  -- replay any revision since the compaction point with its prevKv.
  CREATE TABLE log (
    rev             INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    type            TEXT NOT NULL CHECK (type IN ('put', 'delete')),
    key             TEXT NOT NULL,
    value           TEXT NOT NULL,
    create_rev      INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    lease           INTEGER NOT NULL,
    prev_value      TEXT,
    prev_create_rev INTEGER,
    prev_mod_rev    INTEGER,
    prev_version    INTEGER,
    prev_lease      INTEGER,
    PRIMARY KEY (rev, seq)
  ) WITHOUT ROWID;

  CREATE TABLE leases (
    id          INTEGER PRIMARY KEY,
    ttl_seconds INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
  );
  CREATE INDEX leases_by_expiry ON leases (expires_at);
`;

/** Brings the schema to SCHEMA_VERSION; `path` only makes the error messages actionable. */
export function migrate(db: Database.Database, path: string): void {
  db.transaction(() => {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new BlixardError(
        "UNAVAILABLE",
        `the store at ${path} has schema version ${version}, newer than this Blixard understands ` +
          `(${SCHEMA_VERSION}); upgrade Blixard or point it at another data dir`,
      );
    }
    if (version === 0) {
      db.exec(SCHEMA_V1);
      const setMeta = db.prepare("INSERT INTO meta (name, value) VALUES (?, ?)");
      setMeta.run("revision", INITIAL_REVISION);
      setMeta.run("compact_revision", 0);
      setMeta.run("next_lease_id", 1);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
  }).immediate();
}
