/**
 * What the Store contract suites share: the harness a backend provides, a per-test context over it,
 * and helpers that wait for watches and leases without assuming fake time, so the same tests run
 * against the SQLite store (fake clock, instant) and etcd (real time).
 */
import { afterEach, beforeEach, expect } from "vitest";
import type { ErrorCode } from "../../core/errors.js";
import type { Store, Watch, WatchBatch, WatchEvent } from "../../ports/store.js";

export interface StoreHarness {
  /**
   * A store that starts empty and that nothing else writes to while the test runs: tests assert exact
   * key sets and exact revisions. A shared server is fine if each test sees its own key namespace and
   * nothing else writes to the server (revisions are server-wide) until the test's cleanup is done.
   */
  store: Store;
  /** Make `ms` of lease time pass: fake clock advance for sqlite, real sleep for etcd. */
  passTime(ms: number): Promise<void>;
  /** Simulate losing and re-opening the connection/process: returns a new Store over the same data. */
  reopen?(): Promise<Store>;
  /** Close the store (the one reopen returned last, if any) and remove everything the harness made. */
  cleanup(): Promise<void>;
}

export interface ContractContext {
  /** The store under test; reopen() replaces it. */
  readonly store: Store;
  readonly harness: StoreHarness;
  passTime(ms: number): Promise<void>;
  reopen(): Promise<Store>;
}

/** Registers the per-test harness lifecycle in the calling describe block. */
export function useHarness(factory: () => Promise<StoreHarness>): ContractContext {
  let harness: StoreHarness | undefined;
  let store: Store | undefined;
  beforeEach(async () => {
    harness = await factory();
    store = harness.store;
  });
  afterEach(async () => {
    await harness?.cleanup();
    harness = undefined;
    store = undefined;
  });
  const current = () => {
    if (harness === undefined) throw new Error("the store harness is only available inside a test");
    return harness;
  };
  return {
    get store() {
      current();
      return store!;
    },
    get harness() {
      return current();
    },
    passTime: (ms) => current().passTime(ms),
    async reopen() {
      const h = current();
      if (h.reopen === undefined) throw new Error("this harness cannot reopen its store");
      store = await h.reopen();
      return store;
    },
  };
}

/** Long enough for etcd on a loaded machine; a backend that needs longer has a bug worth seeing. */
const WAIT_MS = 10_000;

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An event together with the revision of the batch that carried it. */
export type RevisedEvent = WatchEvent & { revision: number };

/** Reads one watch through a single iterator, failing instead of hanging when nothing arrives. */
export class WatchReader {
  private readonly iterator: AsyncIterator<WatchBatch>;

  constructor(readonly watch: Watch) {
    this.iterator = watch[Symbol.asyncIterator]();
  }

  async next(): Promise<WatchBatch> {
    const result = await within(this.iterator.next(), "a watch batch");
    if (result.done) throw new Error("the watch ended while a batch was expected");
    return result.value;
  }

  async batches(count: number): Promise<WatchBatch[]> {
    const batches: WatchBatch[] = [];
    while (batches.length < count) batches.push(await this.next());
    return batches;
  }

  /** Reads whole batches until at least `count` events have arrived. */
  async events(count: number): Promise<RevisedEvent[]> {
    const events: RevisedEvent[] = [];
    while (events.length < count) {
      const batch = await this.next();
      for (const event of batch.events) events.push({ ...event, revision: batch.revision });
    }
    return events;
  }

  /** Resolves true once the iteration has ended. */
  async ended(): Promise<boolean> {
    return (await within(this.iterator.next(), "the watch to end")).done === true;
  }

  close(): void {
    this.watch.close();
  }
}

/** Lets time pass in small steps until `condition` holds, for lease expiry that real etcd does late. */
export async function eventually(
  c: ContractContext,
  condition: () => Promise<boolean>,
  what: string,
): Promise<void> {
  for (let step = 0; step < 60; step++) {
    if (await condition()) return;
    await c.passTime(250);
  }
  throw new Error(`gave up waiting until ${what}`);
}

export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: "BlixardError", code });
}

/** The revisions from `first` to `last`, inclusive. */
export function revisionsFrom(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** A watch that starts at the revision after the current one: it sees the writes that follow. */
export async function watchFromNow(c: ContractContext, prefix: string): Promise<WatchReader> {
  const fromRevision = (await c.store.revision()) + 1;
  return new WatchReader(c.store.watch(prefix, { fromRevision }));
}
