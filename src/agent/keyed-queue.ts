/**
 * Runs tasks one at a time per key, different keys concurrently. A reconcile requested while one is
 * already queued for the same key is coalesced into it: the queued pass will see the latest state anyway.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly pendingReconcile = new Set<string>();

  constructor(private readonly onError: (key: string, err: unknown) => void) {}

  /** Queues `task` for `key`; resolves when it has run. */
  run(key: string, task: () => Promise<void>): Promise<void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((err) => this.onError(key, err));
    this.tails.set(key, next);
    void next.then(() => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    return next;
  }

  /** Queues `task` unless one is already waiting to start for `key`. */
  coalesce(key: string, task: () => Promise<void>): Promise<void> {
    if (this.pendingReconcile.has(key)) return this.tails.get(key) ?? Promise.resolve();
    this.pendingReconcile.add(key);
    return this.run(key, async () => {
      this.pendingReconcile.delete(key);
      await task();
    });
  }

  /** Resolves when every queued task has run. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
