/**
 * Which waiting transactions may travel to the store together as one (group commit), and the
 * transaction that carries them. Pure, so the rules are tested on their own.
 *
 * Transactions merge only when none writes a key another one compares or writes: all compares of a
 * merged transaction are evaluated before any of its writes, so with disjoint keys the merged
 * transaction does exactly what the separate ones would have done one after the other, in any order.
 * Transactions with failure branches, leases or prefix deletes always travel alone: their effects are
 * not a plain set of keys, or their failure could be another transaction's.
 */
import type { TxnRequest, TxnResult } from "../../ports/store.js";

export interface BatchLimits {
  /** Compares, and writes, per merged transaction: etcd refuses more than --max-txn-ops (128). */
  maxOps: number;
  /** Bytes of keys and values per merged transaction: etcd refuses requests over 1.5 MiB. */
  maxBytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxOps: 128, maxBytes: 1024 * 1024 };

export interface Waiting {
  request: TxnRequest;
  resolve(result: TxnResult): void;
  reject(err: unknown): void;
}

/** Whether the request may share a transaction with others. */
export function mergeable(request: TxnRequest): boolean {
  if ((request.failure ?? []).length > 0) return false;
  return request.success.every((op) => op.type === "delete" || (op.type === "put" && !op.lease));
}

function written(request: TxnRequest): string[] {
  return request.success.map((op) => (op.type === "deletePrefix" ? op.prefix : op.key));
}

function compared(request: TxnRequest): string[] {
  return request.compare.map((c) => c.key);
}

function bytes(request: TxnRequest): number {
  let total = 0;
  for (const c of request.compare) total += c.key.length;
  for (const op of request.success) {
    total += op.type === "put" ? op.key.length + op.value.length : op.type === "delete" ? op.key.length : 0;
  }
  return total;
}

/**
 * Takes from the front of `queue` the transactions that go out together: the first one, then every
 * later one that shares no written key with those taken and fits the limits. A transaction left
 * behind blocks the later ones that touch its keys, so two writes to one key keep their order.
 * Returns the batch; `queue` keeps the rest, in order.
 */
export function takeBatch(queue: Waiting[], limits: BatchLimits): Waiting[] {
  const batch: Waiting[] = [];
  const rest: Waiting[] = [];
  const writes = new Set<string>();
  const touched = new Set<string>();
  const blockedWrites = new Set<string>();
  const blockedTouched = new Set<string>();
  let compares = 0;
  let ops = 0;
  let size = 0;
  for (const waiting of queue) {
    const { request } = waiting;
    const w = written(request);
    const c = compared(request);
    const n = bytes(request);
    const clashes = (keys: Set<string>, of: string[]) => of.some((k) => keys.has(k));
    const fits =
      batch.length === 0 ||
      (compares + c.length <= limits.maxOps &&
        ops + w.length <= limits.maxOps &&
        size + n <= limits.maxBytes);
    const free =
      !clashes(touched, w) &&
      !clashes(writes, c) &&
      !clashes(blockedTouched, w) &&
      !clashes(blockedWrites, c);
    if (fits && (batch.length === 0 || free)) {
      batch.push(waiting);
      for (const k of w) {
        writes.add(k);
        touched.add(k);
      }
      for (const k of c) touched.add(k);
      compares += c.length;
      ops += w.length;
      size += n;
    } else {
      rest.push(waiting);
      for (const k of w) {
        blockedWrites.add(k);
        blockedTouched.add(k);
      }
      for (const k of c) blockedTouched.add(k);
    }
  }
  queue.splice(0, queue.length, ...rest);
  return batch;
}

/** One transaction that carries every request of the batch. */
export function merge(batch: readonly Waiting[]): TxnRequest {
  return {
    compare: batch.flatMap((w) => w.request.compare),
    success: batch.flatMap((w) => w.request.success),
    confirmQuorum: batch.some((w) => w.request.confirmQuorum === true),
  };
}
