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
 * Queueing, close and failure follow shared/watch-stream.ts, as in every store.
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
import type { WatchBatch, WatchEvent } from "../../ports/store.js";
import { WatchStream, watchCompacted } from "../shared/watch-stream.js";
import { toKeyValue, toNumber } from "./etcd-convert.js";
import { type EtcdEndpoints, endStream } from "./etcd-endpoints.js";
import type { KeyCodec } from "./etcd-keys.js";

export interface WatchContext {
  endpoints: EtcdEndpoints;
  codec: KeyCodec;
  log: Logger;
}

type EtcdStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const MIN_PAUSE_MS = 50;
const MAX_PAUSE_MS = 2_000;

export class EtcdWatch extends WatchStream {
  private stream: EtcdStream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pause = MIN_PAUSE_MS;
  /** The first revision not yet queued: where a new stream starts. */
  private nextRevision: number;

  constructor(
    private readonly context: WatchContext,
    private readonly prefix: string,
    fromRevision: number,
    private readonly release: (watch: EtcdWatch) => void,
  ) {
    super();
    this.nextRevision = fromRevision;
    void this.connect();
  }

  protected override onClosed(): void {
    clearTimeout(this.retryTimer);
    this.dropStream();
    this.release(this);
  }

  private async connect(): Promise<void> {
    this.retryTimer = undefined;
    if (this.ended) return;
    const { client, index } = this.context.endpoints.pick();
    let stream: EtcdStream;
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
    if (this.ended) {
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
        this.failWith(watchCompacted(this.prefix, this.nextRevision, compactRevision));
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
      this.failWith(err);
      return;
    }
    if (fresh.length === 0) return;
    this.nextRevision = fresh[fresh.length - 1]!.revision + 1;
    for (const batch of fresh) this.push(batch);
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
    if (this.ended) return;
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
  private failWith(err: unknown): void {
    if (this.ended) return;
    this.dropStream();
    this.fail(
      isBlixardError(err)
        ? err
        : new BlixardError("INTERNAL", `the etcd watch failed: ${errorMessage(err)}`, { cause: err }),
    );
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) endStream(stream);
  }
}
