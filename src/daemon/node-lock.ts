/**
 * One daemon per data directory: two agents converging the same VMs would fight.
 *
 * The lock is a kernel lock that dies with its process, so there is no check-then-act window and no
 * stale lock after SIGKILL. Node has no flock(2); better-sqlite3 (already the embedded store) takes
 * POSIX fcntl locks on its database file. A connection in `locking_mode=EXCLUSIVE` that has written
 * keeps its exclusive fcntl lock until it is closed or its process exits, and another process's
 * attempt fails at once with SQLITE_BUSY (busy timeout 0). fcntl locks are not inherited across
 * fork/exec, so the qemu processes and the watchdog the node spawns never hold it.
 *
 * The holder's pid goes to a separate plain file only to name it in the refusal: a process that does
 * not hold the lock cannot read the locked database.
 */
import { readFileSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { BlixardError } from "../core/errors.js";

export function acquireNodeLock(lockPath: string, pidPath: string): () => void {
  const db = new Database(lockPath, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // The database only carries the lock: keep no journal file beside it.
    db.pragma("journal_mode = MEMORY");
    // A write takes the exclusive lock; in EXCLUSIVE locking mode it is kept after COMMIT.
    db.exec("BEGIN EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)");
    db.prepare("DELETE FROM holder").run();
    db.prepare("INSERT INTO holder (pid) VALUES (?)").run(process.pid);
    db.exec("COMMIT");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `another blixard node${holderPid(pidPath)} is using this data dir (lock ${lockPath}); stop it first or pass another --data-dir`,
    );
  }
  writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 });
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    db.close();
  };
}

function holderPid(pidPath: string): string {
  try {
    const pid = Number.parseInt(readFileSync(pidPath, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? ` (pid ${pid})` : "";
  } catch {
    return "";
  }
}
