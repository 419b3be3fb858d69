/**
 * A typed, decoded cache of one key prefix, kept current by list-and-watch: client-go's informer in
 * miniature, used by the agent and the scheduler. It follows its prefix with followPrefix
 * (follow-prefix.ts): a list, handed whole to its owner, then a watch from the next revision, and a
 * list again, at once, when compaction overtakes the watch. What it adds is recovery: a watch that
 * breaks resumes from the revision after the last batch it delivered (nothing is missed), a follow
 * that compaction overtakes twice in a row lists again, and every failure backs off on the injected
 * clock first (1 s, 2 s, ... 30 s by default), so a failing store is not hammered, starting from the
 * first wait again once a watch delivers. Values are decoded once, on the way in; a value that does not decode is
 * reported to the owner and counts as absent.
 *
 * Writes the owner makes itself can be taken in at once (`observe`), before their watch event comes:
 * a cached entry is only ever replaced by a newer revision of its key, so the later event for the
 * same write, or an older one a lagging watch delivers, changes nothing.
 */
import { errorMessage, isBlixardError } from "../core/errors.js";
import { nameFromKey } from "../core/keys.js";
import { RetryBackoff, type RetryBackoffOptions } from "../core/retry-backoff.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { KeyValue, Store, WatchBatch } from "../ports/store.js";
import type { Collection } from "./collections.js";
import { type FollowStep, followPrefix, resumeFrom } from "./follow-prefix.js";

export interface Entry<T> {
  value: T;
  kv: KeyValue;
}

export interface InformerOptions<T> {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** What to cache: its prefix (entries are named by the rest of their key) and its codec. */
  collection: Collection<T>;
  /**
   * After every list, with the whole set (the owner rebuilds what it derives from it). Awaited
   * before the watch starts, so the owner's own reload (another prefix it reads once) goes with it.
   */
  onReset?: (entries: ReadonlyMap<string, Entry<T>>, revision: number) => void | Promise<void>;
  /** A key of the prefix changed: its new entry (undefined when deleted or invalid) and its old one. */
  onChange?: (name: string, next: Entry<T> | undefined, previous: Entry<T> | undefined) => void;
  /** After each delivered watch batch, once its changes are applied. */
  onBatch?: (revision: number) => void;
  /** A value that does not decode; it counts as absent (and is listed by `invalidEntries`). */
  onInvalid?: (name: string, problem: string, kv: KeyValue) => void;
  /**
   * Which valid values to keep: the others count as absent, as if their key were gone (an agent keeps
   * only its own node's VMs). All by default.
   */
  select?: (value: T) => boolean;
  backoff?: RetryBackoffOptions;
}

export class Informer<T> {
  private readonly cache = new Map<string, Entry<T>>();
  /**
   * Keys the owner deleted itself, with the delete's revision, until the watch passes it: a lagging
   * watch's older put for such a key must not bring it back.
   */
  private readonly tombstones = new Map<string, number>();
  /** Keys whose value does not decode, with the problem: absent from the cache, kept for reporting. */
  private readonly invalid = new Map<string, { problem: string; kv: KeyValue }>();
  /** The same entries' values, for owners that hand a plain map on (kept with the cache). */
  private readonly valueMap = new Map<string, T>();
  private readonly log: Logger;
  private readonly backoff: RetryBackoff;
  /** Aborts the current follow (closing its watch). */
  private abort: AbortController | undefined;
  private timer: TimerHandle | undefined;
  private running = false;
  private synced = false;
  /** Bumped by every stop and every new follow, so a stale loop or list knows it is stale. */
  private generation = 0;

  constructor(private readonly opts: InformerOptions<T>) {
    this.log = opts.logger.child({ informer: opts.collection.prefix });
    this.backoff = new RetryBackoff(opts.backoff ?? { initialSeconds: 1, maxSeconds: 30 });
  }

  /** Lists and starts watching. Rejects when the first list fails (the owner decides what then). */
  async start(): Promise<void> {
    this.running = true;
    await this.follow(undefined);
  }

  /** Stops watching and forgets the cache. */
  stop(): void {
    this.running = false;
    this.synced = false;
    this.halt();
    this.cache.clear();
    this.valueMap.clear();
    this.tombstones.clear();
    this.invalid.clear();
  }

  /**
   * Lists again now (and watches from there), for an owner whose own write failed in a way that
   * leaves its view in doubt (a lost reply). Rejects when the list fails; the cache is then kept.
   */
  async resync(): Promise<void> {
    if (!this.running) return;
    await this.follow(undefined);
  }

  /** Whether the cache holds a list's result (false before the first list and after stop). */
  get ready(): boolean {
    return this.synced;
  }

  get(name: string): Entry<T> | undefined {
    return this.cache.get(name);
  }

  entries(): ReadonlyMap<string, Entry<T>> {
    return this.cache;
  }

  values(): ReadonlyMap<string, T> {
    return this.valueMap;
  }

  /** The keys of the prefix whose value does not decode, as of the cache. */
  invalidEntries(): ReadonlyMap<string, { problem: string; kv: KeyValue }> {
    return this.invalid;
  }

  /** Takes in a write the owner made itself (its key, new value and revision), unless the cache has newer. */
  observe(kv: KeyValue): void {
    this.apply("put", kv);
  }

  /** Takes in a delete the owner made itself, at its revision. */
  observeDelete(key: string, revision: number): void {
    this.apply("delete", { key, value: "", createRevision: 0, modRevision: revision, version: 0, lease: 0 });
    this.tombstones.set(nameFromKey(this.opts.collection.prefix, key), revision);
  }

  /** Ends the current follow and any pending retry; whatever they still deliver is stale. */
  private halt(): void {
    this.generation++;
    this.abort?.abort();
    this.abort = undefined;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * Follows the prefix from `fromRevision`, or from a list when it is undefined: then it resolves once
   * that list is taken in (and rejects when it fails; the cache is kept), and the watch goes on behind.
   */
  private async follow(fromRevision: number | undefined, afterCompaction = false): Promise<void> {
    this.halt();
    const generation = this.generation;
    const abort = new AbortController();
    this.abort = abort;
    const { store, collection } = this.opts;
    const steps = followPrefix({
      store,
      prefix: collection.prefix,
      signal: abort.signal,
      afterCompaction,
      ...(fromRevision === undefined ? {} : { fromRevision }),
    });
    let next = fromRevision;
    if (next === undefined) {
      try {
        const first = await steps.next();
        if (first.done || first.value.type !== "list" || generation !== this.generation) return;
        if (!(await this.reset(first.value.kvs, first.value.revision, generation))) return;
        next = resumeFrom(first.value);
      } catch (err) {
        // The watch opened behind the list must not go on filling a queue nobody reads.
        abort.abort();
        throw err;
      }
    }
    void this.consume(steps, generation, next);
  }

  /** Takes in the follow's steps until it fails (then recovers) or goes stale. */
  private async consume(steps: AsyncIterable<FollowStep>, generation: number, next: number): Promise<void> {
    let resume: number | undefined = next;
    try {
      for await (const step of steps) {
        if (generation !== this.generation) return;
        if (step.type === "list") {
          this.log.info({ revision: step.revision }, "store watch fell behind compaction; listed again");
          resume = undefined;
          if (!(await this.reset(step.kvs, step.revision, generation))) return;
        } else {
          this.backoff.succeeded();
          this.applyBatch(step.batch);
        }
        resume = resumeFrom(step);
      }
    } catch (err) {
      if (!this.running || generation !== this.generation) return;
      this.recover(err, resume);
    }
  }

  /** Replaces the cache with a list's result and tells the owner; false when it went stale meanwhile. */
  private async reset(kvs: KeyValue[], revision: number, generation: number): Promise<boolean> {
    // Entries observed at a later revision than this read stay: the read predates them.
    const newer = [...this.cache.values()].filter((e) => e.kv.modRevision > revision);
    this.cache.clear();
    this.valueMap.clear();
    this.invalid.clear();
    for (const kv of kvs) this.take(kv);
    for (const e of newer) this.take(e.kv);
    await this.opts.onReset?.(this.cache, revision);
    if (generation !== this.generation) return false;
    this.synced = true;
    return true;
  }

  private applyBatch(batch: WatchBatch): void {
    for (const event of batch.events) this.apply(event.type, event.kv);
    for (const [name, revision] of this.tombstones)
      if (revision <= batch.revision) this.tombstones.delete(name);
    this.opts.onBatch?.(batch.revision);
  }

  /** Decodes and caches a key's value without telling the owner (a list's entries go in onReset). */
  private take(kv: KeyValue): void {
    const name = nameFromKey(this.opts.collection.prefix, kv.key);
    const cached = this.cache.get(name);
    if (cached && cached.kv.modRevision >= kv.modRevision) return;
    if ((this.tombstones.get(name) ?? 0) >= kv.modRevision) return;
    const decoded = this.opts.collection.decode(name, kv);
    if (!decoded.ok) {
      this.remove(name);
      this.invalid.set(name, { problem: decoded.problem, kv });
      this.opts.onInvalid?.(name, decoded.problem, kv);
      return;
    }
    this.invalid.delete(name);
    if (this.opts.select && !this.opts.select(decoded.value)) {
      this.remove(name);
      return;
    }
    this.cache.set(name, { value: decoded.value, kv });
    this.valueMap.set(name, decoded.value);
  }

  private apply(type: "put" | "delete", kv: KeyValue): void {
    const name = nameFromKey(this.opts.collection.prefix, kv.key);
    const previous = this.cache.get(name);
    if (previous && previous.kv.modRevision >= kv.modRevision) return;
    if (type === "delete") {
      this.invalid.delete(name);
      if (!previous) return;
      this.remove(name);
    } else this.take(kv);
    const next = this.cache.get(name);
    if (next !== previous) this.opts.onChange?.(name, next, previous);
  }

  private remove(name: string): void {
    this.cache.delete(name);
    this.valueMap.delete(name);
  }

  /**
   * After a failed follow: waits out the backoff, then resumes watching from `next`, or lists again
   * when that revision was compacted away (or `next` is undefined: a list failed).
   */
  private recover(err: unknown, next: number | undefined): void {
    const compacted = isBlixardError(err, "COMPACTED");
    const relist = next === undefined || compacted;
    const retryInMs = this.backoff.failed(this.opts.clock.now());
    this.log.warn(
      { err: errorMessage(err), retryInMs },
      relist ? "store watch failed; listing again" : "store watch failed; resuming",
    );
    const generation = this.generation;
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.running || generation !== this.generation) return;
      this.follow(relist ? undefined : next, compacted).catch((again) => this.recover(again, undefined));
    }, retryInMs);
  }
}
