/**
 * The Store port: a revisioned key-value store with etcd v3 semantics, so that the SQLite backend
 * (single node) and the etcd backend (clusters) are held to one contract suite (store/store.contract.ts).
 *
 * - Every write gets a new, cluster-wide revision; a key remembers its create and mod revisions.
 * - Transactions compare revisions first, then apply puts and deletes atomically.
 * - A watch delivers every change after a revision, in order and without gaps, and can be resumed
 *   from the last revision seen; a revision older than the compaction point fails with COMPACTED.
 * - Leases expire after their TTL unless kept alive; their keys are deleted when they do.
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

/** An ordered, gap-free stream of changes under a prefix. */
export interface Watch extends AsyncIterable<WatchBatch> {
  close(): void;
}

export interface WatchOptions {
  /** Deliver changes with revision >= fromRevision. Defaults to the revision after "now". */
  fromRevision?: number;
}

export interface Lease {
  id: number;
  ttlSeconds: number;
}

export interface Store {
  get(key: string): Promise<KeyValue | undefined>;
  range(prefix: string, options?: { limit?: number }): Promise<RangeResult>;
  put(key: string, value: string, options?: { lease?: number }): Promise<number>;
  /** Returns the number of keys deleted. */
  delete(key: string): Promise<number>;
  txn(request: TxnRequest): Promise<TxnResult>;
  watch(prefix: string, options?: WatchOptions): Watch;
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Refreshes a lease; fails with LEASE_NOT_FOUND once it has expired or been revoked. */
  keepAlive(leaseId: number): Promise<void>;
  revokeLease(leaseId: number): Promise<void>;
  /** Forgets history before `revision`; watches from earlier revisions then fail with COMPACTED. */
  compact(revision: number): Promise<void>;
  /** The current revision. */
  revision(): Promise<number>;
  close(): Promise<void>;
}
