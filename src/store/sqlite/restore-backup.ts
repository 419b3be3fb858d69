/**
 * Restoring a single node's store from `blixard cluster backup`: the backup is a SQLite database file,
 * checked and then copied into place before the store opens it. A node never restores over a store
 * it already has.
 */
import { chmodSync, closeSync, copyFileSync, existsSync, openSync, readSync } from "node:fs";
import Database from "better-sqlite3";
import { BlixardError, errorMessage } from "../../core/errors.js";

const SQLITE_MAGIC = "SQLite format 3\0";

/** True when `file` starts with SQLite's header (etcd snapshots do not). */
export function isSqliteFile(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    throw new BlixardError("NOT_FOUND", `--restore: cannot read ${file} (${errorMessage(err)})`, {
      cause: err,
    });
  }
  try {
    const header = Buffer.alloc(SQLITE_MAGIC.length);
    const read = readSync(fd, header, 0, header.length, 0);
    return read === header.length && header.toString("latin1") === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export function restoreSqliteBackup(backup: string, storeFile: string): void {
  if (existsSync(storeFile)) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `--restore: this node already has a store (${storeFile}); restore into a new --data-dir`,
    );
  }
  if (!isSqliteFile(backup)) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `--restore: ${backup} is not a SQLite backup; an etcd snapshot is restored with --cluster-init --restore FILE`,
    );
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(backup, { readonly: true, fileMustExist: true });
    const result = db.pragma("integrity_check", { simple: true });
    if (result !== "ok") throw new Error(`integrity check: ${String(result)}`);
    db.prepare("SELECT count(*) FROM kv").get();
  } catch (err) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `--restore: ${backup} is not a usable Blixard backup (${errorMessage(err)})`,
      {
        cause: err,
      },
    );
  } finally {
    db?.close();
  }
  copyFileSync(backup, storeFile);
  chmodSync(storeFile, 0o600);
}
