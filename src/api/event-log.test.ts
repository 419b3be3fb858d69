import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EventKeys, eventEntry } from "../core/events.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { EventLog, type LoggedEvent } from "./event-log.js";

describe("EventLog.follow", () => {
  let store: SqliteStore;
  let clock: ManualClock;
  const eventKeys = new EventKeys("node-a");
  let abort: AbortController;

  const record = (vm: string, reason: string) =>
    store.txn({
      compare: [],
      success: [eventEntry(eventKeys, clock.now(), { type: "running", vm, node: "node-a", reason })],
    });

  /** Reads `count` events from the stream, failing instead of hanging when they do not come. */
  const take = async (stream: AsyncIterator<LoggedEvent>, count: number) => {
    const got: string[] = [];
    while (got.length < count) {
      const next = await Promise.race([
        stream.next(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${got.join(",")}`)), 2000)),
      ]);
      if (next.done) throw new Error(`the stream ended after ${got.join(",")}`);
      got.push(next.value.reason);
    }
    return got;
  };

  beforeEach(async () => {
    clock = new ManualClock();
    abort = new AbortController();
    store = await SqliteStore.open({ path: ":memory:", clock });
  });
  afterEach(async () => {
    abort.abort();
    await store.close();
  });

  it("delivers the events after the listed revision, then new ones", async () => {
    const log = new EventLog(store);
    await record("web", "one");
    const { revision } = await log.list({});
    await record("web", "two");
    const stream = log.follow({}, revision, abort.signal)[Symbol.asyncIterator]();
    expect(await take(stream, 1)).toEqual(["two"]);
    await record("web", "three");
    expect(await take(stream, 1)).toEqual(["three"]);
  });

  it("goes on after compaction passed its revision: the missed events, in order, then new ones", async () => {
    const log = new EventLog(store);
    await record("web", "listed");
    const { revision } = await log.list({ vm: "web" });
    // The reader is behind: events and other writes land, and compaction passes its revision.
    await record("web", "missed-1");
    await record("db", "other vm");
    for (let i = 0; i < 20; i++) await store.put("/unrelated", `${i}`);
    await record("web", "missed-2");
    await store.compact(await store.revision());
    const stream = log.follow({ vm: "web" }, revision, abort.signal)[Symbol.asyncIterator]();
    expect(await take(stream, 2)).toEqual(["missed-1", "missed-2"]);
    await record("web", "live");
    expect(await take(stream, 1)).toEqual(["live"]);
  });
});
