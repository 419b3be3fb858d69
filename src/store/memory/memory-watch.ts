/**
 * Watches over the memory store. A watch that starts in the past replays the revision log up to the
 * revision at which it was registered, then delivers the live batches the store published after it.
 * Registration and the revision read happen in one synchronous step, so the two parts meet without a
 * gap or a duplicate. Results settle on the microtask queue only: no timer is ever involved, so the
 * simulator alone decides when time passes.
 *
 * Replay reads the log one revision at a time when the consumer asks, and checks the compaction point
 * before each one, so compaction that overtakes a slow replay fails the watch with COMPACTED. Live
 * batches queue without bound: a slow consumer never loses an event, as in the SQLite store.
 */
import { BlixardError } from "../../core/errors.js";
import type { Watch, WatchBatch } from "../../ports/store.js";
import { copyEvent } from "./memory-kv.js";

/** What a watch needs from the store to replay the past. */
export interface WatchHistory {
  /** Every event of `revision`, or undefined if no write took it (the initial revision). */
  batchAt(revision: number): WatchBatch | undefined;
  compactRevision(): number;
}

interface Waiter {
  resolve(result: IteratorResult<WatchBatch>): void;
  reject(err: unknown): void;
}

const DONE: IteratorResult<WatchBatch> = { done: true, value: undefined };

export class MemoryWatch implements Watch {
  private readonly live: WatchBatch[] = [];
  private readonly waiters: Waiter[] = [];
  private nextReplay: number;
  private closed = false;

  /**
   * @param fromRevision first revision to deliver
   * @param replayThrough the store revision at registration: older revisions come from the log
   */
  constructor(
    private readonly prefix: string,
    private readonly fromRevision: number,
    private readonly replayThrough: number,
    private readonly history: WatchHistory,
    private readonly onClose: (watch: MemoryWatch) => void,
  ) {
    this.nextReplay = fromRevision;
  }

  /** Called by the store with every committed batch, in revision order. */
  offer(batch: WatchBatch): void {
    if (this.closed || batch.revision < this.fromRevision || batch.revision <= this.replayThrough) return;
    const mine = this.filter(batch);
    if (mine === undefined) return;
    this.live.push(mine);
    this.wake();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.live.length = 0;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(DONE);
    this.onClose(this);
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

  /** The next result if one is ready; undefined means wait for a live batch. */
  private take(): IteratorResult<WatchBatch> | undefined {
    if (this.closed) return DONE;
    while (this.nextReplay <= this.replayThrough) {
      const compacted = this.history.compactRevision();
      if (this.nextReplay < compacted) {
        throw new BlixardError(
          "COMPACTED",
          `cannot watch from revision ${this.nextReplay}: history before revision ${compacted} was ` +
            "compacted; read the current state with range() and watch from the revision it returns + 1",
        );
      }
      const batch = this.history.batchAt(this.nextReplay);
      this.nextReplay++;
      const mine = batch === undefined ? undefined : this.filter(batch);
      if (mine !== undefined) return { done: false, value: mine };
    }
    const next = this.live.shift();
    return next === undefined ? undefined : { done: false, value: next };
  }

  /** The batch's events under the prefix, as copies the consumer may keep; undefined if none. */
  private filter(batch: WatchBatch): WatchBatch | undefined {
    const events = batch.events.filter((event) => event.kv.key.startsWith(this.prefix)).map(copyEvent);
    return events.length === 0 ? undefined : { revision: batch.revision, events };
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
