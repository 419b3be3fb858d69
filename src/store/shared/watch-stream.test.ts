import { describe, expect, it } from "vitest";
import { BlixardError } from "../../core/errors.js";
import type { WatchBatch } from "../../ports/store.js";
import { batchUnder, WatchStream } from "./watch-stream.js";

/** A stream fed by hand, as a store feeds it. */
class FedStream extends WatchStream {
  closedCalls = 0;
  feed(batch: WatchBatch): void {
    this.push(batch);
  }
  failWith(err: unknown): void {
    this.fail(err);
  }
  protected override onClosed(): void {
    this.closedCalls++;
  }
}

const batch = (revision: number, key = "/k"): WatchBatch => ({
  revision,
  events: [
    {
      type: "put",
      kv: { key, value: "v", createRevision: revision, modRevision: revision, version: 1, lease: 0 },
    },
  ],
});

describe("WatchStream", () => {
  it("delivers what was queued before a failure, then rejects once and is closed", async () => {
    const stream = new FedStream();
    stream.feed(batch(2));
    stream.feed(batch(3));
    const failure = new BlixardError("COMPACTED", "behind");
    stream.failWith(failure);
    stream.feed(batch(4)); // after the failure: never delivered
    const it = stream[Symbol.asyncIterator]();
    expect((await it.next()).value?.revision).toBe(2);
    expect((await it.next()).value?.revision).toBe(3);
    await expect(it.next()).rejects.toBe(failure);
    expect((await it.next()).done).toBe(true);
    expect(stream.closedCalls).toBe(1);
  });

  it("rejects a consumer already waiting when it fails, and keeps the first failure", async () => {
    const stream = new FedStream();
    const it = stream[Symbol.asyncIterator]();
    const waiting = it.next();
    stream.failWith(new Error("first"));
    stream.failWith(new Error("second"));
    await expect(waiting).rejects.toThrow("first");
    expect(stream.closedCalls).toBe(1);
  });

  it("ends at once when closed: a waiting consumer is done and queued batches are dropped", async () => {
    const stream = new FedStream();
    const it = stream[Symbol.asyncIterator]();
    const waiting = it.next();
    stream.close();
    expect((await waiting).done).toBe(true);
    stream.feed(batch(2));
    expect((await it.next()).done).toBe(true);
    stream.close();
    expect(stream.closedCalls).toBe(1);
  });

  it("closes when the consumer leaves a for-await loop", async () => {
    const stream = new FedStream();
    stream.feed(batch(2));
    for await (const _ of stream) break;
    expect(stream.closedCalls).toBe(1);
  });
});

describe("batchUnder", () => {
  it("keeps only keys under the prefix, as copies, and nothing for a batch with none", () => {
    const original: WatchBatch = {
      revision: 5,
      events: [...batch(5, "/w/a").events, ...batch(5, "/wx").events],
    };
    const mine = batchUnder("/w/", original);
    expect(mine?.events.map((e) => e.kv.key)).toEqual(["/w/a"]);
    mine!.events[0]!.kv.value = "changed";
    expect(original.events[0]!.kv.value).toBe("v");
    expect(batchUnder("/none/", original)).toBeUndefined();
  });
});
