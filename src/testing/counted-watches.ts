/**
 * A store whose watches count the events they deliver: for the tests and benchmarks that show a node
 * is sent only what concerns it (an agent watches its own node's assignments, not every VM).
 */
import type { Store, Watch } from "../ports/store.js";

export interface CountedWatches {
  readonly store: Store;
  /** Watch events delivered so far, over every watch opened through `store`. */
  delivered(): number;
}

export function countedWatches(store: Store, counter = { events: 0 }): CountedWatches {
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== "watch") return Reflect.get(target, prop, receiver);
      return (...args: Parameters<Store["watch"]>): Watch => {
        const inner = target.watch(...args);
        return {
          close: () => inner.close(),
          async *[Symbol.asyncIterator]() {
            for await (const batch of inner) {
              counter.events += batch.events.length;
              yield batch;
            }
          },
        };
      };
    },
  });
  return { store: counted, delivered: () => counter.events };
}
