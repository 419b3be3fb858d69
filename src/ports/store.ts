/**
 * The Store port: a revisioned key-value store with etcd v3 semantics, so that the SQLite backend
 * (single node) and the etcd backend (clusters) are held to one contract suite (store/store.contract.ts).
 *
 * - Every write gets a new, cluster-wide revision; a key remembers its create and mod revisions.
 * - Transactions compare revisions first, then apply puts and deletes atomically.
 * - A watch delivers every change after a revision, in order and without gaps, and can be resumed
 *   from the last revision seen; a revision older than the compaction point fails with COMPACTED.
 * - Leases expire after their TTL unless kept alive; their keys are deleted when they do.
 *
 * Failures are BlixardErrors. A backend that cannot reach a quorum fails the call with UNAVAILABLE or
 * DEADLINE_EXCEEDED within its call deadline, never hangs and never reports a write it could not commit.
 * A write that failed that way may still have been applied (the request can reach the leader and
 * commit after the reply was lost), so callers re-read, or guard writes with revision compares.
 */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** Number of writes since the key was (re)created; 1 after the first put. */
  version: number;
  /** Lease id the key is bound to, or 0. */
  lease: number;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** The store revision the range was read at. */
  revision: number;
  /** True when the limit cut the result: more keys under the prefix follow the last one returned. */
  more: boolean;
}

export type CompareTarget = "modRevision" | "createRevision" | "version";
export type CompareOp = "=" | "!=" | "<" | ">";

/** Compares a key's revision field; a missing key has 0 for every field. */
export interface Compare {
  key: string;
  target: CompareTarget;
  op: CompareOp;
  value: number;
}

export type TxnOp =
  | { type: "put"; key: string; value: string; lease?: number }
  | { type: "delete"; key: string }
  | { type: "deletePrefix"; prefix: string };

export interface TxnRequest {
  compare: Compare[];
  success: TxnOp[];
  failure?: TxnOp[];
  /**
   * Confirm that a quorum answers before proposing the transaction. In a replicated store, a write
   * proposed to a leader that has just lost its quorum waits in its log and may commit when the
   * members return, long after the caller was told it failed. With this set, such a cluster fails the
   * write cleanly (nothing written) at the cost of one read round. For writes a user is told about
   * (the API's); a store in one process has no quorum to lose and ignores it.
   */
  confirmQuorum?: boolean;
}

export interface TxnResult {
  succeeded: boolean;
  /** Revision after the transaction (unchanged if it wrote nothing). */
  revision: number;
}

export interface WatchEvent {
  type: "put" | "delete";
  /** For deletes: the key with empty value and the deleting revision as modRevision. */
  kv: KeyValue;
  prevKv?: KeyValue;
}

export interface WatchBatch {
  /** All events of one revision, in key order of the write. */
  revision: number;
  events: WatchEvent[];
}

/**
 * An ordered, gap-free stream of changes under a prefix. A failure, such as COMPACTED when the start
 * revision is older than the compaction point, arrives as a rejection of the iterator's next() and
 * ends the watch; resume with a new watch from the last revision seen + 1 (or, after COMPACTED,
 * re-read with range() and watch from its revision + 1). close(), or closing the store, ends the
 * iteration: a pending next() resolves done.
 */
export interface Watch extends AsyncIterable<WatchBatch> {
  close(): void;
}

export interface WatchOptions {
  /**
   * Deliver changes with revision >= fromRevision (a positive integer). There is no "from now": a
   * remote backend sets a watch up asynchronously, so "now" would be some unknown later revision and
   * writes in between would be lost. Read the revision (range(), get(), revision()) and pass it + 1.
   */
  fromRevision: number;
}

export interface Lease {
  /** A positive safe integer, unique among the leases the store has ever granted. */
  id: number;
  /** The TTL the store granted; may be longer than asked (etcd raises short TTLs to its minimum). */
  ttlSeconds: number;
}

export interface Store {
  get(key: string): Promise<KeyValue | undefined>;
  /** The keys under `prefix` in key (UTF-8 byte) order; `limit` caps their number, 0 means no cap. */
  range(prefix: string, options?: { limit?: number }): Promise<RangeResult>;
  put(key: string, value: string, options?: { lease?: number }): Promise<number>;
  /** Returns the number of keys deleted. */
  delete(key: string): Promise<number>;
  txn(request: TxnRequest): Promise<TxnResult>;
  /**
   * Watches the keys under `prefix`. Throws INVALID_ARGUMENT for a bad prefix or start revision and
   * UNAVAILABLE once the store is closed; later failures arrive through the iterator (see Watch).
   */
  watch(prefix: string, options: WatchOptions): Watch;
  /** Grants a lease of at least `ttlSeconds` (see Lease.ttlSeconds). */
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Refreshes a lease once; fails with LEASE_NOT_FOUND once it has expired or been revoked. */
  keepAlive(leaseId: number): Promise<void>;
  /** Revokes a lease and deletes its keys at one revision; LEASE_NOT_FOUND if it is not live. */
  revokeLease(leaseId: number): Promise<void>;
  /**
   * Forgets history before `revision`; watches from earlier revisions then fail with COMPACTED.
   * Fails with COMPACTED if `revision` is at or before the current compaction point, and with
   * INVALID_ARGUMENT if the store has not reached it yet.
   */
  compact(revision: number): Promise<void>;
  /** The current revision. */
  revision(): Promise<number>;
  /** Ends every open watch and fails later calls with UNAVAILABLE; closing twice is harmless. */
  close(): Promise<void>;
}
