/**
 * Group commit in front of a remote Store. While a transaction is on its way to the store, the
 * transactions that arrive wait; when it returns, those that touch disjoint keys leave together as
 * one transaction (txn-batch.ts). Under load one round trip, one raft entry and one set of watch
 * messages then carry many writes: a node's API creates, the scheduler's placements and the agent's
 * status reports share them. A caller alone waits for nothing: with nothing in flight its
 * transaction leaves at once.
 *
 * When a merged transaction fails its compares, nothing of it was applied and each of its
 * transactions is retried alone, so each learns its own outcome. When it fails outright (unreachable
 * store, deadline), every transaction in it gets that error: each would have met it alone, and each
 * may have been applied, as the Store port says of such failures.
 */

import type { Store, TxnRequest, TxnResult, Watch, WatchOptions } from "../../ports/store.js";
import { checkTxn } from "../shared/store-checks.js";
import {
  type BatchLimits,
  DEFAULT_BATCH_LIMITS,
  merge,
  mergeable,
  takeBatch,
  type Waiting,
} from "./txn-batch.js";

export interface GroupCommitOptions extends Partial<BatchLimits> {
  /** Transactions on their way at once; more wait and merge. */
  maxInFlight?: number;
}

export interface GroupCommitStats {
  /** Transactions callers asked for. */
  requested: number;
  /** Transactions sent to the store, merged or not, retries included. */
  sent: number;
  /** Merged transactions whose compares failed, so their parts were retried alone. */
  split: number;
}

export class GroupCommitStore implements Store {
  private readonly limits: BatchLimits;
  private readonly maxInFlight: number;
  private readonly queue: Waiting[] = [];
  private inFlight = 0;
  readonly stats: GroupCommitStats = { requested: 0, sent: 0, split: 0 };

  constructor(
    private readonly inner: Store,
    options: GroupCommitOptions = {},
  ) {
    this.limits = {
      maxOps: options.maxOps ?? DEFAULT_BATCH_LIMITS.maxOps,
      maxBytes: options.maxBytes ?? DEFAULT_BATCH_LIMITS.maxBytes,
    };
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    this.stats.requested++;
    if (!mergeable(request)) return this.send(request);
    // A malformed request is refused alone, never inside a batch that it would fail.
    checkTxn(request);
    return new Promise<TxnResult>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  private send(request: TxnRequest): Promise<TxnResult> {
    this.stats.sent++;
    return this.inner.txn(request);
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = takeBatch(this.queue, this.limits);
      this.inFlight++;
      void this.commit(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async commit(batch: Waiting[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch;
      await this.send(only!.request).then(only!.resolve, only!.reject);
      return;
    }
    let result: TxnResult;
    try {
      result = await this.send(merge(batch));
    } catch (err) {
      for (const waiting of batch) waiting.reject(err);
      return;
    }
    if (result.succeeded) {
      for (const waiting of batch) waiting.resolve(result);
      return;
    }
    this.stats.split++;
    await Promise.all(batch.map((w) => this.send(w.request).then(w.resolve, w.reject)));
  }

  get(key: string) {
    return this.inner.get(key);
  }
  range(prefix: string, options?: { limit?: number }) {
    return this.inner.range(prefix, options);
  }
  put(key: string, value: string, options?: { lease?: number }) {
    return this.inner.put(key, value, options);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  watch(prefix: string, options: WatchOptions): Watch {
    return this.inner.watch(prefix, options);
  }
  grantLease(ttlSeconds: number) {
    return this.inner.grantLease(ttlSeconds);
  }
  keepAlive(leaseId: number) {
    return this.inner.keepAlive(leaseId);
  }
  revokeLease(leaseId: number) {
    return this.inner.revokeLease(leaseId);
  }
  compact(revision: number) {
    return this.inner.compact(revision);
  }
  revision() {
    return this.inner.revision();
  }
  close() {
    return this.inner.close();
  }
}
