/**
 * The single node's compactor: every interval on the injected Clock, it forgets the revision log
 * before the last `retainRevisions` revisions and gives the freed disk space back. Without it the
 * log keeps one row per changed key per revision for ever (etcd members compact themselves: see
 * daemon/etcd/etcd-args.ts).
 *
 * Retention counts revisions, not time: the log then holds at most `retainRevisions` plus one
 * interval's writes, whatever the write rate, which is what bounds the file. A watch that has fallen
 * further behind gets COMPACTED and its loop re-lists, as it must with etcd too.
 */
import { errorMessage } from "../../core/errors.js";
import type { Clock, TimerHandle } from "../../ports/clock.js";
import { type Logger, silentLogger } from "../../ports/logger.js";
import { checkPositiveInteger } from "../shared/store-checks.js";
import { INITIAL_REVISION } from "./schema.js";
import type { FileBytes } from "./space.js";

/** What the compactor needs of the store (SqliteStore has it). */
export interface CompactableStore {
  status(): Promise<{ revision: number; compactRevision: number; bytes: FileBytes }>;
  compact(revision: number): Promise<void>;
  /** Frees up to `maxPages` pages; resolves to the free pages left. */
  reclaimSpace(maxPages: number): Promise<number>;
}

export interface CompactorOptions {
  store: CompactableStore;
  clock: Clock;
  intervalMs: number;
  retainRevisions: number;
  logger?: Logger;
}

/** Counts since start, read by /metrics at scrape time. */
export interface CompactorStats {
  /** Passes that compacted the log. */
  compactions: number;
  /** Passes that failed (the next one tries again). */
  failures: number;
  /** Disk space given back by the passes (free pages and the emptied WAL). */
  reclaimedBytes: number;
}

const total = (bytes: FileBytes) => bytes.db + bytes.wal;

/**
 * better-sqlite3 holds the event loop while SQLite works, so a large pass (the first over an old
 * store's history, or after a burst) is done in steps with a turn of the event loop between them:
 * at most about 50 ms each on this project's machines (src/bench/store-compaction.ts), well within
 * the slack of a lease renewal.
 */
const COMPACT_STEP_REVISIONS = 10_000;
const RECLAIM_STEP_PAGES = 2_048;
/** A bound on the reclaim steps of one pass, should the free list not shrink. */
const MAX_RECLAIM_STEPS = 10_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class SqliteCompactor {
  readonly stats: CompactorStats = { compactions: 0, failures: 0, reclaimedBytes: 0 };
  private readonly log: Logger;
  private timer: TimerHandle | undefined;
  private pass: Promise<void> | undefined;
  private running = false;

  constructor(private readonly opts: CompactorOptions) {
    checkPositiveInteger(opts.intervalMs, "the compaction interval in ms");
    checkPositiveInteger(opts.retainRevisions, "the revisions to retain");
    this.log = (opts.logger ?? silentLogger).child({ component: "store-compactor" });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.arm();
  }

  /** Stops the schedule and waits for a pass under way, so the store can be closed after. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    await this.pass;
  }

  /**
   * One pass: compacts to `revision - retainRevisions` when that is past the compaction point, then
   * reclaims the space. The WAL is emptied at every pass, writes or not: lease renewals alone would
   * otherwise keep it at SQLite's checkpoint size (about 4 MiB). Returns the new compaction point, or
   * undefined when the history was short enough.
   */
  async compactOnce(): Promise<number | undefined> {
    const before = await this.opts.store.status();
    const target = before.revision - this.opts.retainRevisions;
    // The first write is at INITIAL_REVISION + 1: compacting to INITIAL_REVISION would forget nothing.
    const from = Math.max(before.compactRevision, INITIAL_REVISION);
    const compacting = target > from;
    for (let to = from + COMPACT_STEP_REVISIONS; compacting; to += COMPACT_STEP_REVISIONS) {
      await this.opts.store.compact(Math.min(to, target));
      await nextTurn();
      if (to >= target) break;
    }
    for (let step = 0; step < MAX_RECLAIM_STEPS; step++) {
      if ((await this.opts.store.reclaimSpace(RECLAIM_STEP_PAGES)) === 0) break;
      await nextTurn();
    }
    const after = await this.opts.store.status();
    const reclaimed = Math.max(0, total(before.bytes) - total(after.bytes));
    this.stats.reclaimedBytes += reclaimed;
    if (!compacting) return undefined;
    this.stats.compactions++;
    this.log.debug(
      { compactRevision: target, revision: after.revision, bytes: total(after.bytes), reclaimed },
      "compacted the store",
    );
    return target;
  }

  private arm(): void {
    if (!this.running) return;
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      this.pass = this.compactOnce()
        .then(
          () => undefined,
          (err: unknown) => {
            // A timer has no caller to report to: log, count, and try again at the next interval.
            this.stats.failures++;
            this.log.warn(
              { err: errorMessage(err) },
              "store compaction failed; retrying at the next interval",
            );
          },
        )
        .finally(() => {
          this.pass = undefined;
          this.arm();
        });
    }, this.opts.intervalMs);
  }
}
