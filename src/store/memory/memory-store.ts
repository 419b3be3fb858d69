/**
 * The simulator's Store: etcd v3 semantics held entirely in memory, on the injected Clock only, so a
 * simulation run is a pure function of its seed. It passes the same contract suite as the SQLite and
 * etcd stores (store/store.contract.ts) and follows the SQLite store's choices where etcd leaves room.
 *
 * Every method runs start to finish synchronously and settles its promise on the microtask queue: no
 * I/O, no timers except the lease timer on the clock, no wall clock, no randomness (lease ids come from
 * a counter), and only insertion-ordered Maps and Sets are iterated. The same calls and clock advances
 * therefore give the same results, revisions and watch events every time.
 *
 * The revision log is kept in memory until compact() drops it, so a long simulation should compact.
 */
import { BlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type {
  KeyValue,
  Lease,
  RangeResult,
  Store,
  TxnOp,
  TxnRequest,
  TxnResult,
  Watch,
  WatchBatch,
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
import { batchUnder } from "../shared/watch-stream.js";
import { copyKv, MemoryKv } from "./memory-kv.js";
import { MemoryLeases } from "./memory-leases.js";

/** The revision of an empty store, as in etcd and the SQLite store: the first write gets revision 2. */
const INITIAL_REVISION = 1;

export interface MemoryStoreOptions {
  clock: Clock;
}

export interface MemoryLeaseState {
  id: number;
  ttlSeconds: number;
  /** Clock time (epoch ms) at which the lease expires unless kept alive. */
  expiresAt: number;
  /** The keys bound to it, in key order. */
  keys: string[];
}

/** The store's state at one instant, for invariant checks; it does not change as the store moves on. */
export interface MemoryStoreSnapshot {
  revision: number;
  compactRevision: number;
  closed: boolean;
  /** Every key, in key (UTF-8 byte) order; the values are frozen. */
  kvs: ReadonlyMap<string, KeyValue>;
  /** Live leases in the order they were granted. */
  leases: readonly MemoryLeaseState[];
}

export class MemoryStore implements Store {
  private readonly kv = new MemoryKv();
  /** One batch per revision after the compaction point, oldest first, with no revision missing. */
  private readonly log: WatchBatch[] = [];
  private readonly leases: MemoryLeases;
  private readonly watches: LocalWatches;
  private current = INITIAL_REVISION;
  private compacted = 0;
  private closed = false;

  constructor(options: MemoryStoreOptions) {
    this.leases = new MemoryLeases(options.clock, () => {
      if (!this.closed) this.expireDueLeases();
    });
    // One revision a page: compaction that overtakes a slow replay is noticed at the next revision.
    this.watches = new LocalWatches({
      read: (prefix, fromRev, toRev) => this.readLog(prefix, fromRev, toRev),
      compactRevision: () => this.compacted,
      pageRevisions: 1,
    });
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.run(() => {
      checkKey(key);
      const kv = this.kv.get(key);
      return kv === undefined ? undefined : copyKv(kv);
    });
  }

  range(prefix: string, options: { limit?: number } = {}): Promise<RangeResult> {
    return this.run(() => {
      const limit = checkRange(prefix, options);
      const { kvs, more } = cutAtLimit(limit, (count) => this.kv.range(prefix, count), copyKv);
      return { kvs, revision: this.current, more };
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
      return this.commit((rev) => this.kv.apply([{ type: "delete", key }], rev)).length;
    });
  }

  txn(request: TxnRequest): Promise<TxnResult> {
    return this.run(() => {
      checkTxn(request);
      this.expireDueLeases();
      const succeeded = request.compare.every((compare) => this.kv.compareHolds(compare));
      const ops = succeeded ? request.success : (request.failure ?? []);
      checkPutLeases(ops, (leaseId) => this.leases.has(leaseId));
      this.commit((rev) => this.kv.apply(ops, rev));
      return { succeeded, revision: this.current };
    });
  }

  watch(prefix: string, options: WatchOptions): Watch {
    this.ensureOpen();
    checkText(prefix, "the watch prefix");
    checkPositiveInteger(options.fromRevision, "the watch start revision");
    return this.watches.watch(prefix, options.fromRevision, this.current);
  }

  grantLease(ttlSeconds: number): Promise<Lease> {
    return this.run(() => {
      checkPositiveInteger(ttlSeconds, "the lease TTL in seconds");
      this.expireDueLeases();
      const lease = this.leases.grant(ttlSeconds);
      this.leases.arm();
      return lease;
    });
  }

  keepAlive(leaseId: number): Promise<void> {
    return this.run(() => {
      this.expireDueLeases();
      this.leases.renew(leaseId);
      this.leases.arm();
    });
  }

  revokeLease(leaseId: number): Promise<void> {
    return this.run(() => {
      this.expireDueLeases();
      this.leases.require(leaseId, "revoke");
      this.dropLease(leaseId);
      this.leases.arm();
    });
  }

  compact(revision: number): Promise<void> {
    return this.run(() => {
      checkPositiveInteger(revision, "the compaction revision");
      if (revision > this.current) {
        throw new BlixardError(
          "INVALID_ARGUMENT",
          `cannot compact to revision ${revision}: the store is only at revision ${this.current}; ` +
            "compact to the current revision or an earlier one",
        );
      }
      if (revision <= this.compacted) {
        throw new BlixardError(
          "COMPACTED",
          `revision ${revision} is already compacted (history starts at ${this.compacted}); ` +
            "compact to a later revision",
        );
      }
      this.compacted = revision;
      const first = this.log[0]?.revision;
      if (first !== undefined && revision > first) this.log.splice(0, revision - first);
    });
  }

  revision(): Promise<number> {
    return this.run(() => this.current);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.leases.stop();
    this.watches.closeAll();
  }

  /** The current state, synchronously and without side effects; also works after close(). */
  snapshot(): MemoryStoreSnapshot {
    return {
      revision: this.current,
      compactRevision: this.compacted,
      closed: this.closed,
      kvs: new Map(this.kv.all().map((kv) => [kv.key, kv])),
      leases: this.leases.list().map((lease) => ({
        id: lease.id,
        ttlSeconds: lease.ttlSeconds,
        expiresAt: lease.expiresAt,
        keys: this.kv.keysOfLease(lease.id),
      })),
    };
  }

  /**
   * Applies `write` at the next revision and offers the batch to the watches. A write that changed
   * nothing takes no revision, as in etcd.
   */
  private commit(write: (rev: number) => WatchEvent[]): WatchEvent[] {
    const rev = this.current + 1;
    const events = write(rev);
    if (events.length === 0) return events;
    this.current = rev;
    const batch: WatchBatch = { revision: rev, events };
    this.log.push(batch);
    this.watches.publish(batch);
    return events;
  }

  /** The logged batches of fromRev..toRev under `prefix`, as copies (a revision no write took has none). */
  private readLog(prefix: string, fromRev: number, toRev: number): WatchBatch[] {
    const first = this.log[0]?.revision;
    if (first === undefined) return [];
    const batches: WatchBatch[] = [];
    for (const batch of this.log.slice(Math.max(fromRev - first, 0), Math.max(toRev - first + 1, 0))) {
      const mine = batchUnder(prefix, batch);
      if (mine !== undefined) batches.push(mine);
    }
    return batches;
  }

  /** Deletes a lease and its keys as one revision (none if it held no keys). */
  private dropLease(leaseId: number): void {
    this.commit((rev) => this.kv.dropLease(leaseId, rev));
    this.leases.remove(leaseId);
  }

  /** Drops every lease whose time is up, earliest first, each as its own revision; re-arms the timer. */
  private expireDueLeases(): void {
    for (const leaseId of this.leases.due()) this.dropLease(leaseId);
    this.leases.arm();
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new BlixardError(
        "UNAVAILABLE",
        "the memory store is closed; create a new one (the simulation closes it when it ends)",
      );
    }
  }

  /** Runs a synchronous body as an async method, so failures reject instead of throwing. */
  private async run<T>(body: () => T): Promise<T> {
    this.ensureOpen();
    return body();
  }
}
