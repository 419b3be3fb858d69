/**
 * In-process watches over the SQLite store. A watch that starts in the past replays the revision log
 * up to the revision at which it was registered, then delivers the live batches the store published
 * after that revision. Registration and the revision read happen in one synchronous step, with no
 * write in between, so the two parts meet without a gap or a duplicate.
 *
 * Replay reads the log a page at a time, when the consumer asks, so a watch from far back does not
 * load the whole history into memory. Live batches queue without bound: a slow consumer must never
 * lose an event, and the store cannot push back on writers.
 */
import { BlixardError } from "../../core/errors.js";
import type { Watch, WatchBatch } from "../../ports/store.js";

/** What a watch needs from the store to replay the past. */
export interface WatchHistory {
  read(prefix: string, fromRev: number, toRev: number): WatchBatch[];
  compactRevision(): number;
}

/** Revisions per replay page: large enough to be fast, small enough to bound a page's memory. */
const REPLAY_PAGE_REVISIONS = 256;

interface Waiter {
  resolve(result: IteratorResult<WatchBatch>): void;
  reject(err: unknown): void;
}

const DONE: IteratorResult<WatchBatch> = { done: true, value: undefined };

export class SqliteWatch implements Watch {
  private readonly replayed: WatchBatch[] = [];
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
    private readonly onClose: (watch: SqliteWatch) => void,
  ) {
    this.nextReplay = fromRevision;
  }

  /** Called by the store with every committed batch, in revision order. */
  offer(batch: WatchBatch): void {
    if (this.closed || batch.revision < this.fromRevision || batch.revision <= this.replayThrough) return;
    const events = batch.events.filter((event) => event.kv.key.startsWith(this.prefix));
    if (events.length === 0) return;
    this.live.push({ revision: batch.revision, events });
    this.wake();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.replayed.length = 0;
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
    const buffered = this.replayed.shift();
    if (buffered !== undefined) return { done: false, value: buffered };
    while (this.nextReplay <= this.replayThrough) {
      const compacted = this.history.compactRevision();
      if (this.nextReplay < compacted) {
        throw new BlixardError(
          "COMPACTED",
          `cannot watch from revision ${this.nextReplay}: history before revision ${compacted} was ` +
            "compacted; read the current state with range() and watch from the revision it returns + 1",
        );
      }
      const toRev = Math.min(this.nextReplay + REPLAY_PAGE_REVISIONS - 1, this.replayThrough);
      const page = this.history.read(this.prefix, this.nextReplay, toRev);
      this.nextReplay = toRev + 1;
      const [first, ...rest] = page;
      if (first !== undefined) {
        this.replayed.push(...rest);
        return { done: false, value: first };
      }
    }
    const next = this.live.shift();
    return next === undefined ? undefined : { done: false, value: next };
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
