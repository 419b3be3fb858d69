/**
 * Watches over a store that lives in this process (the SQLite store and the simulator's memory store):
 * every write commits and is published to the open watches before any other code runs. A watch that
 * starts in the past replays the store's revision log up to the revision at which it was registered,
 * then delivers the live batches published after it. Registration and the revision read happen in one
 * synchronous step, so the two parts meet without a gap or a duplicate.
 *
 * Replay reads the log a page at a time when the consumer asks, checking the compaction point before
 * each page, so a watch from far back never loads the whole history, and compaction that overtakes a
 * slow replay fails the watch with COMPACTED. The store supplies only how its log is read.
 */
import type { Watch, WatchBatch } from "../../ports/store.js";
import { batchUnder, WatchStream, watchCompacted } from "./watch-stream.js";

/** What a watch needs from the store to replay the past. */
export interface WatchHistory {
  /** The batches of revisions fromRev..toRev with events under `prefix`, oldest first. */
  read(prefix: string, fromRev: number, toRev: number): WatchBatch[];
  compactRevision(): number;
  /** Revisions per page read: bounds a page's memory, and how late a compaction is noticed. */
  pageRevisions: number;
}

class LocalWatch extends WatchStream {
  private readonly replayed: WatchBatch[] = [];
  private nextReplay: number;

  /**
   * @param fromRevision first revision to deliver
   * @param replayThrough the store revision at registration: older revisions come from the log
   */
  constructor(
    private readonly prefix: string,
    private readonly fromRevision: number,
    private readonly replayThrough: number,
    private readonly history: WatchHistory,
    private readonly release: (watch: LocalWatch) => void,
  ) {
    super();
    this.nextReplay = fromRevision;
  }

  /** Takes a batch the store committed; revisions arrive in order. */
  offer(batch: WatchBatch): void {
    if (this.ended || batch.revision < this.fromRevision || batch.revision <= this.replayThrough) return;
    const mine = batchUnder(this.prefix, batch);
    if (mine !== undefined) this.push(mine);
  }

  protected override replay(): WatchBatch | undefined {
    const buffered = this.replayed.shift();
    if (buffered !== undefined) return buffered;
    while (this.nextReplay <= this.replayThrough) {
      const compacted = this.history.compactRevision();
      if (this.nextReplay < compacted) throw watchCompacted(this.prefix, this.nextReplay, compacted);
      const toRev = Math.min(this.nextReplay + this.history.pageRevisions - 1, this.replayThrough);
      const page = this.history.read(this.prefix, this.nextReplay, toRev);
      this.nextReplay = toRev + 1;
      const [first, ...rest] = page;
      if (first !== undefined) {
        this.replayed.push(...rest);
        return first;
      }
    }
    return undefined;
  }

  protected override onClosed(): void {
    this.replayed.length = 0;
    this.release(this);
  }
}

/** The open watches of one in-process store: opened at a revision, fed every commit, closed together. */
export class LocalWatches {
  private readonly open = new Set<LocalWatch>();

  constructor(private readonly history: WatchHistory) {}

  /** A watch from `fromRevision`, registered while the store is at `current` (no write in between). */
  watch(prefix: string, fromRevision: number, current: number): Watch {
    const watch = new LocalWatch(prefix, fromRevision, current, this.history, (w) => this.open.delete(w));
    this.open.add(watch);
    return watch;
  }

  /** Hands a committed batch to every open watch, in revision order. */
  publish(batch: WatchBatch): void {
    for (const watch of [...this.open]) watch.offer(batch);
  }

  closeAll(): void {
    for (const watch of [...this.open]) watch.close();
  }
}
