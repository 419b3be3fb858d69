/**
 * The consumer's side of every store's watch (ports/store.ts's Watch): a queue of batches read as an
 * async iterable, the one copy of the close and failure rules the memory, SQLite and etcd watches
 * share. A store feeds it (push, fail) and keeps only how its batches arrive.
 *
 * - close() ends the iteration at once: a pending next() resolves done and queued batches are dropped.
 * - fail() ends it after what is already queued: those batches are still delivered, then next()
 *   rejects with the failure once and the watch is closed (the consumer resumes with a new watch).
 * - A subclass may supply batches before the queue (`replay`, read when the consumer asks, so a watch
 *   from far back never holds the whole history); an error it throws fails the watch at that point.
 * - The queue has no bound: a slow consumer must never lose an event, and no store can push back on
 *   its writers. Results settle on the microtask queue only, never on a timer, so the simulator's
 *   memory store stays deterministic.
 */
import { BlixardError } from "../../core/errors.js";
import type { KeyValue, Watch, WatchBatch, WatchEvent } from "../../ports/store.js";

interface Waiter {
  resolve(result: IteratorResult<WatchBatch>): void;
  reject(err: unknown): void;
}

const DONE: IteratorResult<WatchBatch> = { done: true, value: undefined };

/** A failed watch's error when its start revision is older than the store's compaction point. */
export function watchCompacted(prefix: string, fromRevision: number, compactRevision: number): BlixardError {
  return new BlixardError(
    "COMPACTED",
    `cannot watch ${JSON.stringify(prefix)} from revision ${fromRevision}: history before revision ` +
      `${compactRevision} was compacted; read the current state with range() and watch from the ` +
      "revision it returns + 1",
  );
}

/**
 * The batch's events under `prefix`, as copies the consumer may keep (one watch's consumer cannot
 * change what another watch, or the store's own log, holds); undefined when none is under it.
 */
export function batchUnder(prefix: string, batch: WatchBatch): WatchBatch | undefined {
  const events = batch.events.filter((event) => event.kv.key.startsWith(prefix)).map(copyEvent);
  return events.length === 0 ? undefined : { revision: batch.revision, events };
}

/** A delete event's kv, as etcd reports it: the key, an empty value and the deleting revision. */
export function deletionKv(key: string, revision: number): KeyValue {
  return { key, value: "", createRevision: 0, modRevision: revision, version: 0, lease: 0 };
}

function copyEvent(event: WatchEvent): WatchEvent {
  const copy: WatchEvent = { type: event.type, kv: { ...event.kv } };
  if (event.prevKv) copy.prevKv = { ...event.prevKv };
  return copy;
}

export class WatchStream implements Watch {
  private readonly queue: WatchBatch[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: unknown;
  private closed = false;

  /** Whether the watch has closed or failed: nothing more will be queued. */
  protected get ended(): boolean {
    return this.closed || this.failure !== undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(DONE);
    this.onClosed();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    return {
      next: () => this.next(),
      return: async () => {
        this.close();
        return DONE;
      },
    };
  }

  /** Queues a batch behind those already queued (ignored once the watch has ended). */
  protected push(batch: WatchBatch): void {
    if (this.ended) return;
    this.queue.push(batch);
    this.wake();
  }

  /** Ends the watch with `err` once the queued batches are delivered. The first failure wins. */
  protected fail(err: unknown): void {
    if (this.ended) return;
    this.failure = err;
    this.wake();
  }

  /** The next batch to deliver before the queue, if any; may throw to fail the watch. */
  protected replay(): WatchBatch | undefined {
    return undefined;
  }

  /** Called once when the watch closes, for the store to let go of it. */
  protected onClosed(): void {}

  private next(): Promise<IteratorResult<WatchBatch>> {
    try {
      const result = this.take();
      if (result !== undefined) return Promise.resolve(result);
    } catch (err) {
      // A failed watch is over: the consumer resumes with a new one (or, after COMPACTED, re-reads state).
      this.close();
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** The next result if one is ready; undefined means wait. Throws the failure once nothing is queued. */
  private take(): IteratorResult<WatchBatch> | undefined {
    if (this.closed) return DONE;
    const batch = this.replay() ?? this.queue.shift();
    if (batch !== undefined) return { done: false, value: batch };
    if (this.failure !== undefined) throw this.failure;
    return undefined;
  }

  private wake(): void {
    while (this.waiters.length > 0) {
      let result: IteratorResult<WatchBatch> | undefined;
      try {
        result = this.take();
      } catch (err) {
        for (const waiter of this.waiters.splice(0)) waiter.reject(err);
        this.close();
        return;
      }
      if (result === undefined) return;
      this.waiters.shift()!.resolve(result);
    }
  }
}
