/**
 * Following one key prefix through the store: list it (or start from a revision the caller read),
 * watch from the next revision, and when the watch falls behind the compaction point, list again and
 * watch on from that list. The one copy of the list-then-watch loop that the informer, the event log
 * and leader election each used to write; what a caller does with a list or a batch stays its own.
 *
 * Compaction is no fault, so it relists at once; a watch that falls behind compaction again before
 * delivering anything (a store compacting faster than this reader keeps up) fails with COMPACTED, so
 * that the caller can back off instead of listing in a loop. Any other failure ends the iteration
 * with that error: the caller resumes from the revision after the last step it took (see `resumeFrom`)
 * or gives up. Aborting `signal`, or leaving the loop, closes the watch and ends the iteration.
 */
import { isBlixardError } from "../core/errors.js";
import type { KeyValue, Store, Watch, WatchBatch } from "../ports/store.js";

export type FollowStep =
  /** The whole prefix at `revision`: at the start, or again after compaction overtook the watch. */
  | { type: "list"; kvs: KeyValue[]; revision: number }
  /** One revision's changes under the prefix, in order after the last step. */
  | { type: "batch"; batch: WatchBatch };

export interface FollowOptions {
  store: Store;
  prefix: string;
  /** Watch from this revision without listing first (the caller read the state before it). */
  fromRevision?: number;
  signal?: AbortSignal;
  /**
   * Treat the start as a list made after compaction already overtook a watch, so a compaction before
   * the first batch fails instead of listing again at once (a caller that backed off after one).
   */
  afterCompaction?: boolean;
}

/** The revision to watch from after `step`: where a follow that failed after it resumes. */
export function resumeFrom(step: FollowStep): number {
  return (step.type === "list" ? step.revision : step.batch.revision) + 1;
}

export async function* followPrefix(options: FollowOptions): AsyncGenerator<FollowStep, void, undefined> {
  const { store, prefix, signal } = options;
  let next = options.fromRevision;
  let relisted = options.afterCompaction === true;
  while (!signal?.aborted) {
    let listed: FollowStep | undefined;
    if (next === undefined) {
      const { kvs, revision } = await store.range(prefix);
      if (signal?.aborted) return;
      listed = { type: "list", kvs, revision };
      next = revision + 1;
    }
    // Opened before the list is handed out: a caller that takes long over it (a slow client of the
    // event log) must not let compaction pass the list's revision before the watch holds it.
    const watch = openWatch(store, prefix, next);
    // Closed once, by the signal or on the way out (a wrapper may count closes).
    let open = true;
    const stop = () => {
      if (open) watch.close();
      open = false;
    };
    signal?.addEventListener("abort", stop, { once: true });
    try {
      if (listed) yield listed;
      for await (const batch of watch) {
        relisted = false;
        next = batch.revision + 1;
        yield { type: "batch", batch };
      }
      // The watch ended without failing: closed, by the signal or with the store.
      return;
    } catch (err) {
      if (signal?.aborted) return;
      if (!isBlixardError(err, "COMPACTED") || relisted) throw err;
      relisted = true;
      next = undefined;
    } finally {
      signal?.removeEventListener("abort", stop);
      stop();
    }
  }
}

/**
 * The store's watch, or one that fails with the error opening it threw (a closed or unreachable
 * store), so that a list already read is still handed out before the failure.
 */
function openWatch(store: Store, prefix: string, fromRevision: number): Watch {
  try {
    return store.watch(prefix, { fromRevision });
  } catch (err) {
    return {
      close() {},
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }),
    };
  }
}
