/**
 * Giving disk space back after compaction. SQLite never shrinks its file on DELETE: freed pages go on
 * a free list and are reused by later writes, so without more the file stays at its high-water mark
 * (a burst of writes, or an old store's history, would hold its space for ever).
 *
 * Why incremental vacuum, and not a periodic VACUUM: `auto_vacuum = INCREMENTAL` lets
 * `PRAGMA incremental_vacuum` move the pages at the end of the file into the free slots and truncate
 * it, in time proportional to the pages freed. A full VACUUM rewrites the whole database, needs as
 * much free disk again as the file, and stalls the event loop (better-sqlite3 is synchronous) for as
 * long; it runs once only, to convert a store created before auto_vacuum was set (real users' data,
 * which cannot be recreated). The WAL is checkpointed with TRUNCATE afterwards: the vacuum's page moves
 * go through the WAL, and SQLite's own checkpoints reuse the WAL file but never shrink it.
 */
import { statSync } from "node:fs";
import type Database from "better-sqlite3";
import { isInMemory } from "./open-database.js";

/** SQLite's values of PRAGMA auto_vacuum. */
const AUTO_VACUUM_INCREMENTAL = 2;

export interface FileBytes {
  /** The database file. */
  db: number;
  /** Its write-ahead log (store.db-wal), committed pages not yet copied into the database. */
  wal: number;
}

export function hasIncrementalVacuum(db: Database.Database): boolean {
  return db.pragma("auto_vacuum", { simple: true }) === AUTO_VACUUM_INCREMENTAL;
}

/**
 * Converts a store created before auto_vacuum was set: the mode of an existing database changes only
 * through a VACUUM, which rewrites it. Returns whether a conversion ran.
 */
export function convertToIncrementalVacuum(db: Database.Database): boolean {
  if (hasIncrementalVacuum(db)) return false;
  db.pragma("auto_vacuum = INCREMENTAL");
  db.exec("VACUUM");
  checkpoint(db);
  return true;
}

/**
 * Returns up to `maxPages` free pages (0: all) to the file system and empties the WAL; returns how
 * many free pages remain, so that a caller can spread a large reclaim over several turns of the
 * event loop.
 */
export function reclaimSpace(db: Database.Database, maxPages: number): number {
  // Without incremental vacuum (a conversion that failed, e.g. for lack of disk) the pages stay on the
  // free list for reuse, which still bounds the file once compaction runs.
  const incremental = hasIncrementalVacuum(db);
  if (incremental) db.exec(`PRAGMA incremental_vacuum(${Math.max(0, Math.floor(maxPages))})`);
  checkpoint(db);
  return incremental ? (db.pragma("freelist_count", { simple: true }) as number) : 0;
}

function checkpoint(db: Database.Database): void {
  db.pragma("wal_checkpoint(TRUNCATE)");
}

/** The bytes the store takes on disk; zero for an in-memory store. */
export function fileBytes(path: string): FileBytes {
  if (isInMemory(path)) return { db: 0, wal: 0 };
  const size = (file: string) => statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  return { db: size(path), wal: size(`${path}-wal`) };
}
