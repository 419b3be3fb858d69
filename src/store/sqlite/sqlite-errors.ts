/** The store's failures as BlixardErrors, each saying what the caller can do about it. */
import Database from "better-sqlite3";
import { BlixardError, isBlixardError } from "../../core/errors.js";

export function storeClosed(path: string): BlixardError {
  return new BlixardError(
    "UNAVAILABLE",
    `the store at ${path} is closed; open it again (the daemon closes it when it shuts down)`,
  );
}

/** SQLite failures (disk full, I/O errors) become UNAVAILABLE; anything else passes through unchanged. */
export function fromSqliteError(err: unknown, path: string): unknown {
  if (isBlixardError(err) || !(err instanceof Database.SqliteError)) return err;
  return new BlixardError(
    "UNAVAILABLE",
    `the store at ${path} failed (${err.code}): ${err.message}; check the disk has space and the data ` +
      "dir is writable",
    { cause: err },
  );
}
