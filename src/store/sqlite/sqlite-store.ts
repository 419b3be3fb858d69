/**
 * The single-node Store: etcd v3 semantics over one SQLite file, with nothing else to install.
 *
 * better-sqlite3 is synchronous and this process is the only writer (open-database.ts holds an
 * exclusive lock), so each method runs start to finish without interleaving. That is what makes the
 * in-process watches exact: a write commits and is offered to every watch before any other code runs.
 */
import type Database from "better-sqlite3";
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import { type Logger, silentLogger } from "../../ports/logger.js";
import type {
  KeyValue,
  Lease,
  RangeResult,
  Store,
  TxnOp,
  TxnRequest,
  TxnResult,
  Watch,
  WatchEvent,
  WatchOptions,
} from "../../ports/store.js";
import { LocalWatches } from "../shared/local-watch.js";
import {
  checkKey,
  checkPositiveInteger,
  checkPutLeases,
  checkRange,
  checkText,
  checkTxn,
  cutAtLimit,
} from "../shared/store-checks.js";
import { leaseNotFound } from "../shared/store-errors.js";
import { applyOps, compareHolds, dropLease, rangeRows, recordRevision } from "./apply-ops.js";
import { readHistory } from "./history.js";
import { LeaseTimer } from "./lease-timer.js";
import { openDatabase } from "./open-database.js";
import { convertToIncrementalVacuum, type FileBytes, fileBytes, reclaimSpace } from "./space.js";
import { fromSqliteError, storeClosed } from "./sqlite-errors.js";
import { type MetaName, prepareStatements, type Statements, toKeyValue } from "./statements.js";

export interface SqliteStoreOptions {
  /** The database file, or ":memory:" for a store that lives as long as the process. */
  path: string;
  clock: Clock;
  /** Longest wait between lease expiry checks; 500 ms by default, etcd's own interval. */
  leaseCheckIntervalMs?: number;
  /** How long open waits for a lock held by another process before failing; 5 s by default. */
  busyTimeoutMs?: number;
  logger?: Logger;
}

/** What the single node reports about its store in /metrics. */
export interface SqliteStoreStatus {
  revision: number;
  /** History before this revision is gone (0: never compacted). */
  compactRevision: number;
  bytes: FileBytes;
}

/** Revisions per watch replay page: large enough to be fast, small enough to bound a page's memory. */
const REPLAY_PAGE_REVISIONS = 256;

export class SqliteStore implements Store {
  private readonly s: Statements;
  private readonly watches: LocalWatches;
  private readonly leaseTimer: LeaseTimer;
  private readonly inTransaction: <T>(fn: () => T) => T;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly clock: Clock,
    private readonly leaseCheckIntervalMs: number,
    private readonly log: Logger,
  ) {
    this.s = prepareStatements(db);
    const transaction = db.transaction((fn: () => unknown) => fn());
    this.inTransaction = <T>(fn: () => T) => transaction(fn) as T;
    this.leaseTimer = new LeaseTimer(clock, leaseCheckIntervalMs, () => this.onLeaseTimer());
    this.watches = new LocalWatches({
      read: (prefix, fromRev, toRev) => readHistory(this.s, prefix, fromRev, toRev),
      compactRevision: () => this.meta("compact_revision"),
      pageRevisions: REPLAY_PAGE_REVISIONS,
    });
  }

  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const leaseCheckIntervalMs = options.leaseCheckIntervalMs ?? 500;
    checkPositiveInteger(leaseCheckIntervalMs, "leaseCheckIntervalMs");
    const db = openDatabase(options.path, options.busyTimeoutMs ?? 5000);
    const log = (options.logger ?? silentLogger).child({ component: "sqlite-store" });
    const store = new SqliteStore(db, options.path, options.clock, leaseCheckIntervalMs, log);
    store.convertOldStore();
    // Time passed while the store was closed: leases that ran out meanwhile go now, with their keys.
    try {
      store.expireDueLeases();
    } catch (err) {
      await store.close();
      throw fromSqliteError(err, options.path);
    }
    return store;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.run(() => {
      checkKey(key);
      const row = this.s.getKv.get(key);
      return row === undefined ? undefined : toKeyValue(row);
    });
  }

  range(prefix: string, options: { limit?: number } = {}): Promise<RangeResult> {
    return this.run(() => {
      const limit = checkRange(prefix, options);
      const { kvs, more } = cutAtLimit(limit, (count) => rangeRows(this.s, prefix, count), toKeyValue);
      return { kvs, revision: this.meta("revision"), more };
    });
  }

  put(key: string, value: string, options: { lease?: number } = {}): Promise<number> {
    const op: TxnOp = { type: "put", key, value, ...(options.lease ? { lease: options.lease } : {}) };
    return this.txn({ compare: [], success: [op] }).then((result) => result.revision);
  }

  delete(key: string): Promise<number> {
    return this.run(() => {
      checkKey(key);
      this.expireDueLeases();
      return this.commit((rev) => applyOps(this.s, [{ type: "delete", key }], rev)).events.length;
    });
  }

  txn(request: TxnRequest): Promise<TxnResult> {
    return this.run(() => {
      checkTxn(request);
      this.expireDueLeases();
      let succeeded = false;
      const { revision } = this.commit((rev) => {
        succeeded = request.compare.every((compare) => compareHolds(this.s, compare));
        const ops = succeeded ? request.success : (request.failure ?? []);
        checkPutLeases(ops, (leaseId) => this.s.getLease.get(leaseId) !== undefined);
        return applyOps(this.s, ops, rev);
      });
      return { succeeded, revision };
    });
  }

  watch(prefix: string, options: WatchOptions): Watch {
    this.ensureOpen();
    checkText(prefix, "the watch prefix");
    checkPositiveInteger(options.fromRevision, "the watch start revision");
    return this.watches.watch(prefix, options.fromRevision, this.meta("revision"));
  }

  grantLease(ttlSeconds: number): Promise<Lease> {
    return this.run(() => {
      checkPositiveInteger(ttlSeconds, "the lease TTL in seconds");
      this.expireDueLeases();
      const id = this.inTransaction(() => {
        const next = this.meta("next_lease_id");
        this.s.setMeta.run(next + 1, "next_lease_id");
        this.s.insertLease.run({ id: next, ttl_seconds: ttlSeconds, expires_at: this.expiryFor(ttlSeconds) });
        return next;
      });
      this.armLeaseTimer();
      return { id, ttlSeconds };
    });
  }

  keepAlive(leaseId: number): Promise<void> {
    return this.run(() => {
      this.expireDueLeases();
      const lease = this.s.getLease.get(leaseId);
      if (lease === undefined) throw leaseNotFound(`keep alive lease ${leaseId}`);
      this.s.renewLease.run(this.expiryFor(lease.ttl_seconds), leaseId);
      this.armLeaseTimer();
    });
  }

  revokeLease(leaseId: number): Promise<void> {
    return this.run(() => {
      this.expireDueLeases();
      if (this.s.getLease.get(leaseId) === undefined) throw leaseNotFound(`revoke lease ${leaseId}`);
      this.commit((rev) => dropLease(this.s, leaseId, rev));
      this.armLeaseTimer();
    });
  }

  compact(revision: number): Promise<void> {
    return this.run(() => {
      checkPositiveInteger(revision, "the compaction revision");
      const current = this.meta("revision");
      if (revision > current) {
        throw new BlixardError(
          "INVALID_ARGUMENT",
          `cannot compact to revision ${revision}: the store is only at revision ${current}; ` +
            "compact to the current revision or an earlier one",
        );
      }
      const compacted = this.meta("compact_revision");
      if (revision <= compacted) {
        throw new BlixardError(
          "COMPACTED",
          `revision ${revision} is already compacted (history starts at ${compacted}); compact to a later revision`,
        );
      }
      this.inTransaction(() => {
        this.s.compactLog.run(revision);
        this.s.setMeta.run(revision, "compact_revision");
      });
    });
  }

  revision(): Promise<number> {
    return this.run(() => this.meta("revision"));
  }

  status(): Promise<SqliteStoreStatus> {
    return this.run(() => ({
      revision: this.meta("revision"),
      compactRevision: this.meta("compact_revision"),
      bytes: fileBytes(this.path),
    }));
  }

  /**
   * Gives up to `maxPages` (0: all) of the pages that compaction freed back to the file system and
   * empties the WAL (space.ts); resolves to the number of free pages left.
   */
  reclaimSpace(maxPages = 0): Promise<number> {
    return this.run(() => reclaimSpace(this.db, maxPages));
  }

  /**
   * Writes a consistent copy of the database to `file` with SQLite's online backup, while the store
   * keeps serving. `blixard cluster backup` on a single node; restore copies it back before opening.
   */
  async backup(file: string): Promise<void> {
    if (this.closed) throw storeClosed(this.path);
    await this.db.backup(file);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leaseTimer.stop();
    this.watches.closeAll();
    this.db.close();
  }

  /**
   * Runs `write` in one SQLite transaction at the next revision, then offers the committed batch to the
   * watches. A write that changed nothing takes no revision, as in etcd.
   */
  private commit(write: (rev: number) => WatchEvent[]): { revision: number; events: WatchEvent[] } {
    const { revision, events } = this.inTransaction(() => {
      const rev = this.meta("revision") + 1;
      const events = write(rev);
      recordRevision(this.s, rev, events);
      return { revision: events.length > 0 ? rev : rev - 1, events };
    });
    if (events.length > 0) {
      this.watches.publish({ revision, events });
    }
    return { revision, events };
  }

  /** Revokes every lease whose time is up, each as its own revision, then re-arms the timer. */
  private expireDueLeases(): void {
    for (const { id } of this.s.dueLeases.all(this.clock.now())) {
      const { revision, events } = this.commit((rev) => dropLease(this.s, id, rev));
      this.log.debug({ lease: id, revision, keys: events.length }, "lease expired");
    }
    this.armLeaseTimer();
  }

  /**
   * A store created before auto_vacuum was set is rewritten once so that compaction can shrink it. A
   * failure (no disk for the copy) leaves it as it was: freed pages are still reused, and the next
   * start tries again.
   */
  private convertOldStore(): void {
    try {
      const before = fileBytes(this.path);
      if (convertToIncrementalVacuum(this.db)) {
        this.log.info(
          { path: this.path, before, after: fileBytes(this.path) },
          "converted the store to incremental vacuum",
        );
      }
    } catch (err) {
      this.log.warn(
        { err: errorMessage(err), path: this.path },
        "cannot convert the store to incremental vacuum (free disk space as large as the store is needed); compaction will reuse its space but not shrink the file",
      );
    }
  }

  private onLeaseTimer(): void {
    if (this.closed) return;
    try {
      this.expireDueLeases();
    } catch (err) {
      // A timer callback has no caller to report to; log, and try again after one interval.
      this.log.error({ err: errorMessage(err), path: this.path }, "lease expiry failed; retrying");
      this.leaseTimer.arm(this.clock.now() + this.leaseCheckIntervalMs);
    }
  }

  private armLeaseTimer(): void {
    this.leaseTimer.arm(this.s.nextExpiry.get()?.at ?? undefined);
  }

  private expiryFor(ttlSeconds: number): number {
    return this.clock.now() + ttlSeconds * 1000;
  }

  private meta(name: MetaName): number {
    return this.s.getMeta.get(name)!.value;
  }

  private ensureOpen(): void {
    if (this.closed) throw storeClosed(this.path);
  }

  /** Runs a synchronous body as an async method, so failures reject instead of throwing. */
  private async run<T>(body: () => T): Promise<T> {
    this.ensureOpen();
    try {
      return body();
    } catch (err) {
      throw fromSqliteError(err, this.path);
    }
  }
}
