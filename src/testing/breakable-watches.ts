/**
 * Test support: a store whose watches break on demand, as they do when a store connection drops or a
 * disk fails. Everything else passes through to the real store. A watch the store refuses to open
 * fails through its iterator, as a remote store's does.
 */
import type { Store, Watch } from "../ports/store.js";

export interface BreakableWatches {
  store: Store;
  /** Fails every open watch with `error()` (a plain "watch broke" by default). */
  breakAll(): void;
  /** While set, every new watch fails at once. */
  breakNew(on: boolean): void;
  /** How many watches have been opened. */
  opened(): number;
  /** How many are open now: opened and not yet closed (a second close counts once). */
  open(): number;
}

export function breakableWatches(
  store: Store,
  error: () => Error = () => new Error("watch broke"),
): BreakableWatches {
  const breakers: (() => void)[] = [];
  let opened = 0;
  let closed = 0;
  let breakNew = false;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== "watch") return Reflect.get(target, prop, receiver);
      return (prefix: string, options: { fromRevision: number }): Watch => {
        opened++;
        let inner: Watch;
        try {
          inner = target.watch(prefix, options);
        } catch (err) {
          return { close: () => {}, [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }) };
        }
        let fail: (err: Error) => void = () => {};
        const failed = new Promise<never>((_, reject) => {
          fail = reject;
        });
        failed.catch(() => {});
        breakers.push(() => fail(error()));
        if (breakNew) breakers.at(-1)!();
        let open = true;
        return {
          close: () => {
            if (open) closed++;
            open = false;
            inner.close();
          },
          async *[Symbol.asyncIterator]() {
            const it = inner[Symbol.asyncIterator]();
            for (;;) {
              const next = await Promise.race([it.next(), failed]);
              if (next.done) return;
              yield next.value;
            }
          },
        };
      };
    },
  });
  return {
    store: proxy,
    breakAll: () => {
      for (const b of breakers.splice(0)) b();
    },
    breakNew: (on) => {
      breakNew = on;
    },
    opened: () => opened,
    open: () => opened - closed,
  };
}
