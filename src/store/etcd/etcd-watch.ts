/**
 * A Store watch over an etcd watch stream of its own.
 *
 * It resumes by itself: the watch remembers the revision after the last batch it queued and, when the
 * stream breaks (member killed, connection lost, watch cancelled by the member), opens a new stream
 * on the next member from exactly that revision, so nothing is lost or delivered twice. The etcd3
 * library's Watcher is not used because it resumes from the header revision of the last response,
 * which during a replay of history is the current revision: a reconnect mid-replay would skip the rest.
 *
 * etcd sends all events of one revision in one response (it splits a revision only when asked to
 * fragment, which this never does), so grouping a response's events by revision gives whole batches.
 * Batches queue without bound, as in the SQLite store: a slow consumer must never lose an event.
 */
import {
  castGrpcError,
  type IDuplexStream,
  type IEvent,
  type IWatchRequest,
  type IWatchResponse,
} from "etcd3";
import { BlixardError, errorMessage, isBlixardError } from "../../core/errors.js";
import type { Logger } from "../../ports/logger.js";
import type { Watch, WatchBatch, WatchEvent } from "../../ports/store.js";
import { toKeyValue, toNumber } from "./etcd-convert.js";
import { type EtcdEndpoints, endStream } from "./etcd-endpoints.js";
import type { KeyCodec } from "./etcd-keys.js";

export interface WatchContext {
  endpoints: EtcdEndpoints;
  codec: KeyCodec;
  log: Logger;
}

interface Waiter {
  resolve(result: IteratorResult<WatchBatch>): void;
  reject(err: unknown): void;
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const DONE: IteratorResult<WatchBatch> = { done: true, value: undefined };
const MIN_PAUSE_MS = 50;
const MAX_PAUSE_MS = 2_000;

export class EtcdWatch implements Watch {
  private readonly batches: WatchBatch[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: unknown;
  private stream: WatchStream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pause = MIN_PAUSE_MS;
  private closed = false;
  /** The first revision not yet queued: where a new stream starts. */
  private nextRevision: number;

  constructor(
    private readonly context: WatchContext,
    private readonly prefix: string,
    fromRevision: number,
    private readonly onClose: (watch: EtcdWatch) => void,
  ) {
    this.nextRevision = fromRevision;
    void this.connect();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.dropStream();
    this.batches.length = 0;
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
    if (this.closed) return Promise.resolve(DONE);
    const batch = this.batches.shift();
    if (batch !== undefined) return Promise.resolve({ done: false, value: batch });
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.close();
      return Promise.reject(failure);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private async connect(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed) return;
    const { client, index } = this.context.endpoints.pick();
    let stream: WatchStream;
    try {
      stream = await client.watchClient.watch();
    } catch (err) {
      this.broken(index, err);
      return;
    }
    // Cancelling a stream makes it emit an error; it must always have a listener.
    stream.on("error", (err) => {
      if (this.stream === stream) this.broken(index, castGrpcError(err));
    });
    if (this.closed) {
      endStream(stream);
      return;
    }
    this.stream = stream;
    stream.on("data", (response) => {
      if (this.stream === stream) this.receive(response, index);
    });
    stream.on("end", () => {
      if (this.stream === stream) this.broken(index, new Error("etcd ended the watch stream"));
    });
    const range = this.context.codec.prefix(this.prefix);
    stream.write({ create_request: { ...range, start_revision: this.nextRevision, prev_kv: true } });
  }

  private receive(response: IWatchResponse, index: number): void {
    if (response.canceled) {
      const compactRevision = Number(response.compact_revision);
      if (compactRevision > 0) {
        this.fail(
          new BlixardError(
            "COMPACTED",
            `cannot watch ${JSON.stringify(this.prefix)} from revision ${this.nextRevision}: history before ` +
              `revision ${compactRevision} was compacted; read the current state with range() and watch ` +
              "from the revision it returns + 1",
          ),
        );
      } else {
        // Any other cancellation (e.g. the member is shutting down) concerns that member: move on.
        this.broken(
          index,
          new Error(`etcd cancelled the watch: ${response.cancel_reason || "no reason given"}`),
        );
      }
      return;
    }
    if (response.created) {
      this.pause = MIN_PAUSE_MS;
      return;
    }
    let fresh: WatchBatch[];
    try {
      fresh = this.toBatches(response.events);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (fresh.length === 0) return;
    this.nextRevision = fresh[fresh.length - 1]!.revision + 1;
    this.batches.push(...fresh);
    this.wake();
  }

  private toBatches(events: readonly IEvent[]): WatchBatch[] {
    const batches: WatchBatch[] = [];
    for (const event of events) {
      const revision = toNumber(event.kv.mod_revision, "a watch event's revision");
      // A new stream starts at nextRevision, so this never skips anything; it guards against repeats.
      if (revision < this.nextRevision) continue;
      const converted = this.toEvent(event);
      const last = batches[batches.length - 1];
      if (last?.revision === revision) last.events.push(converted);
      else batches.push({ revision, events: [converted] });
    }
    return batches;
  }

  private toEvent(event: IEvent): WatchEvent {
    const { codec } = this.context;
    const type = String(event.type).toLowerCase() === "delete" ? "delete" : "put";
    const kv = toKeyValue(codec, event.kv);
    return event.prev_kv ? { type, kv, prevKv: toKeyValue(codec, event.prev_kv) } : { type, kv };
  }

  /** The stream is gone but the watch is not: resume from nextRevision on the next member. */
  private broken(index: number, err: unknown): void {
    if (this.closed || this.failure !== undefined) return;
    this.dropStream();
    this.context.endpoints.failed(index, err);
    const fields = {
      prefix: this.prefix,
      fromRevision: this.nextRevision,
      err: errorMessage(err),
      retryInMs: this.pause,
    };
    // Warn when a working stream breaks; while no member answers, one warning is enough.
    if (this.pause === MIN_PAUSE_MS)
      this.context.log.warn(fields, "etcd watch stream broke; resuming on another member");
    else this.context.log.debug(fields, "etcd watch stream still broken; trying the next member");
    this.retryTimer = setTimeout(() => void this.connect(), this.pause);
    this.pause = Math.min(this.pause * 2, MAX_PAUSE_MS);
  }

  /** The watch is over: queued batches are still delivered, then next() rejects with the failure. */
  private fail(err: unknown): void {
    if (this.closed || this.failure !== undefined) return;
    this.failure = isBlixardError(err)
      ? err
      : new BlixardError("INTERNAL", `the etcd watch failed: ${errorMessage(err)}`, { cause: err });
    this.dropStream();
    this.wake();
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.batches.length > 0) {
      this.waiters.shift()!.resolve({ done: false, value: this.batches.shift()! });
    }
    if (this.waiters.length > 0 && this.failure !== undefined) {
      const failure = this.failure;
      for (const waiter of this.waiters.splice(0)) waiter.reject(failure);
      this.close();
    }
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) endStream(stream);
  }
}
