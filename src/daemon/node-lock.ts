/**
 * One daemon per data directory: two agents converging the same VMs would fight. The lock is a pidfile;
 * a stale one (its process is gone, e.g. after SIGKILL) is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { BlixardError } from "../core/errors.js";

export function acquireNodeLock(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `another blixard node (pid ${pid}) is using this data dir (${path}); stop it first or pass another --data-dir`,
        );
      }
      unlinkSync(path);
    }
  }
  throw new BlixardError("INTERNAL", `could not take the node lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
