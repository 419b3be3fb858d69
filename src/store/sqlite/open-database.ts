/**
 * Opening the SQLite file with the settings the store's guarantees rest on:
 * - WAL with synchronous=FULL: a write that returned survives a power cut.
 * - EXCLUSIVE locking: watches and lease timers live in the process that writes, so a second process
 *   writing the same file would go unseen by them. Holding the lock makes a second `blixard node`
 *   on the same data dir fail at open instead. (It also lets WAL work without a shared-memory file.)
 * - The file is created 0600 before SQLite touches it: it holds the whole cluster state, and SQLite
 *   gives its -wal file the permissions of the database file.
 * - auto_vacuum=INCREMENTAL, so that compaction can give disk space back (space.ts says why).
 */
import { closeSync, openSync } from "node:fs";
import Database from "better-sqlite3";
import { BlixardError, errorMessage, isBlixardError } from "../../core/errors.js";
import { migrate } from "./schema.js";

export function isInMemory(path: string): boolean {
  return path === ":memory:" || path === "";
}

export function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  try {
    if (!isInMemory(path)) closeSync(openSync(path, "a", 0o600));
    const db = new Database(path);
    try {
      configure(db, path, busyTimeoutMs);
      migrate(db, path);
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  } catch (err) {
    if (isBlixardError(err)) throw err;
    if (err instanceof Database.SqliteError && err.code === "SQLITE_BUSY") {
      throw new BlixardError(
        "UNAVAILABLE",
        `the store at ${path} is locked by another process, probably another blixard node on the same ` +
          "data dir; stop that process or give this one another data dir",
        { cause: err },
      );
    }
    throw new BlixardError(
      "UNAVAILABLE",
      `cannot open the store at ${path}: ${errorMessage(err)}; check that its directory exists and is writable`,
      { cause: err },
    );
  }
}

function configure(db: Database.Database, path: string, busyTimeoutMs: number): void {
  // Order matters: the locking mode must be set before the first read for WAL to skip shared memory,
  // and the busy timeout before the first read for the lock wait to apply.
  db.pragma("locking_mode = EXCLUSIVE");
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  // Takes effect only on a new file, and only before the switch to WAL writes its first page; an
  // existing store keeps its mode until SqliteStore.open converts it.
  db.pragma("auto_vacuum = INCREMENTAL");
  const mode = db.pragma("journal_mode = WAL", { simple: true });
  if (mode !== "wal" && !(isInMemory(path) && mode === "memory")) {
    throw new BlixardError(
      "UNAVAILABLE",
      `the store at ${path} could not switch to WAL mode (got ${String(mode)}); put the data dir on a local filesystem`,
    );
  }
  db.pragma("synchronous = FULL");
}
