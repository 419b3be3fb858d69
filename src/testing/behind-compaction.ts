/**
 * A store whose watches can be made to fall behind a real compaction, to test that the
 * list-watch-reload loops (agent, scheduler, event log, leader election) recover from it. When armed,
 * the next watch opens only after the store took one more write and was compacted to its current
 * revision: its start revision is then gone, and the real store fails it with COMPACTED, as it does a
 * watch that lagged while the compactor ran.
 */
import type { Store, Watch, WatchBatch, WatchOptions } from "../ports/store.js";

export interface BehindCompaction {
  /** The store to hand to the loop under test. */
  store: Store;
  /**
   * Makes the next `count` watches (on any prefix) start behind a compaction; `meanwhile` runs first,
   * for the writes that such a watch misses.
   */
  behind(count?: number, meanwhile?: () => Promise<unknown>): void;
  /** Watches that were started behind a compaction so far. */
  readonly compacted: number;
}

export function behindCompaction(store: Store, fillerKey = "/test/compaction-filler"): BehindCompaction {
  let armed = 0;
  let compacted = 0;
  let missed: (() => Promise<unknown>) | undefined;
  const lagging = (prefix: string, options: WatchOptions): Watch => {
    const meanwhile = missed;
    missed = undefined;
    let inner: Watch | undefined;
    let closed = false;
    return {
      close() {
        closed = true;
        inner?.close();
      },
      async *[Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
        await meanwhile?.();
        // Two writes: a watch from the revision after the last one it saw is behind even then.
        await store.put(fillerKey, "1");
        await store.put(fillerKey, "2");
        await store.compact(await store.revision());
        compacted++;
        if (closed) return;
        inner = store.watch(prefix, options);
        yield* inner;
      },
    };
  };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== "watch") return Reflect.get(target, prop, receiver);
      return (prefix: string, options: WatchOptions): Watch => {
        if (armed === 0) return target.watch(prefix, options);
        armed--;
        return lagging(prefix, options);
      };
    },
  });
  return {
    store: proxy,
    behind(count = 1, meanwhile) {
      armed += count;
      missed = meanwhile;
    },
    get compacted() {
      return compacted;
    },
  };
}
