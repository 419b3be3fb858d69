import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { behindCompaction } from "../testing/behind-compaction.js";
import { breakableWatches } from "../testing/breakable-watches.js";
import { ManualClock } from "../testing/manual-clock.js";
import { type FollowOptions, type FollowStep, followPrefix, resumeFrom } from "./follow-prefix.js";

const PREFIX = "/p/";

/** A step in a form to compare: the list's keys, or the batch's revision and changes. */
function describeStep(step: FollowStep): string {
  if (step.type === "list") return `list@${step.revision}: ${step.kvs.map((kv) => kv.key).join(",")}`;
  return `batch@${step.batch.revision}: ${step.batch.events.map((e) => `${e.type} ${e.kv.key}`).join(",")}`;
}

/** Reads the next step, failing instead of hanging when none comes. */
async function nextStep(steps: AsyncIterator<FollowStep>): Promise<FollowStep> {
  const result = await Promise.race([
    steps.next(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no step came")), 2000)),
  ]);
  if (result.done) throw new Error("the follow ended while a step was expected");
  return result.value;
}

describe("followPrefix", () => {
  let store: SqliteStore;
  let abort: AbortController;

  const follow = (options: Partial<FollowOptions> = {}) =>
    followPrefix({ store, prefix: PREFIX, signal: abort.signal, ...options })[Symbol.asyncIterator]();

  beforeEach(async () => {
    store = await SqliteStore.open({ path: ":memory:", clock: new ManualClock() });
    abort = new AbortController();
  });
  afterEach(async () => {
    abort.abort();
    await store.close();
  });

  it("lists the prefix, then delivers every later change under it as a batch, in order", async () => {
    await store.put(`${PREFIX}a`, "1");
    await store.put("/other", "1");
    const steps = follow();
    const list = await nextStep(steps);
    expect(describeStep(list)).toBe(`list@${await store.revision()}: /p/a`);
    const put = await store.put(`${PREFIX}b`, "1");
    await store.put("/other", "2");
    const deleted = put + 2;
    await store.delete(`${PREFIX}a`);
    expect(describeStep(await nextStep(steps))).toBe(`batch@${put}: put /p/b`);
    expect(describeStep(await nextStep(steps))).toBe(`batch@${deleted}: delete /p/a`);
    expect(resumeFrom(list)).toBe(put);
  });

  it("starts from a revision the caller read without listing", async () => {
    const from = (await store.put(`${PREFIX}a`, "1")) + 1;
    const put = await store.put(`${PREFIX}b`, "1");
    const steps = follow({ fromRevision: from });
    expect(describeStep(await nextStep(steps))).toBe(`batch@${put}: put /p/b`);
  });

  it("lists again at once when compaction overtakes its watch, and goes on from that list", async () => {
    const behind = behindCompaction(store);
    await store.put(`${PREFIX}a`, "1");
    const steps = followPrefix({ store: behind.store, prefix: PREFIX, signal: abort.signal })[
      Symbol.asyncIterator
    ]();
    behind.behind(1, () => store.put(`${PREFIX}missed`, "1"));
    expect(describeStep(await nextStep(steps))).toMatch(/^list@\d+: \/p\/a$/);
    // The watch opened behind a compaction, after a write it cannot deliver: the new list has it.
    expect(describeStep(await nextStep(steps))).toMatch(/^list@\d+: \/p\/a,\/p\/missed$/);
    expect(behind.compacted).toBe(1);
    const live = await store.put(`${PREFIX}live`, "1");
    expect(describeStep(await nextStep(steps))).toBe(`batch@${live}: put /p/live`);
  });

  it("fails with COMPACTED when compaction overtakes it again before a batch came, so the caller can back off", async () => {
    const behind = behindCompaction(store);
    behind.behind(2);
    const steps = followPrefix({ store: behind.store, prefix: PREFIX, signal: abort.signal })[
      Symbol.asyncIterator
    ]();
    expect((await nextStep(steps)).type).toBe("list");
    expect((await nextStep(steps)).type).toBe("list");
    await expect(steps.next()).rejects.toMatchObject({ code: "COMPACTED" });

    // A caller that backed off after one says so: the first compaction already fails.
    behind.behind(1);
    const again = followPrefix({ store: behind.store, prefix: PREFIX, afterCompaction: true })[
      Symbol.asyncIterator
    ]();
    expect((await nextStep(again)).type).toBe("list");
    await expect(again.next()).rejects.toMatchObject({ code: "COMPACTED" });
  });

  it("holds the list's revision while the caller is busy with the list, so compaction meanwhile loses nothing", async () => {
    // A slow client of the event log is still sending the listed events when the compactor runs.
    const steps = follow();
    expect((await nextStep(steps)).type).toBe("list");
    const put = await store.put(`${PREFIX}a`, "1");
    await store.put("/other", "1");
    await store.compact(await store.revision());
    // Not a second list: the watch was open from the list's revision before the list was handed out.
    expect(describeStep(await nextStep(steps))).toBe(`batch@${put}: put /p/a`);
  });

  it("closes its watch and ends when the signal aborts, or when the caller leaves the loop", async () => {
    const watches = breakableWatches(store);
    const aborted = followPrefix({ store: watches.store, prefix: PREFIX, signal: abort.signal });
    const loop = (async () => {
      const seen: string[] = [];
      for await (const step of aborted) seen.push(step.type);
      return seen;
    })();
    await store.put(`${PREFIX}a`, "1");
    await new Promise((r) => setImmediate(r));
    expect(watches.open()).toBe(1);
    abort.abort();
    expect(await loop).toEqual(["list", "batch"]);
    expect(watches.open()).toBe(0);

    for await (const step of followPrefix({ store: watches.store, prefix: PREFIX })) {
      expect(step.type).toBe("list");
      expect(watches.open()).toBe(1);
      break;
    }
    expect(watches.open()).toBe(0);
  });

  it("still hands out a list it read when the watch cannot be opened, then fails with the store's error", async () => {
    await store.put(`${PREFIX}a`, "1");
    const refusing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "watch")
          return () => {
            throw new Error("store unreachable");
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    const steps = followPrefix({ store: refusing, prefix: PREFIX })[Symbol.asyncIterator]();
    expect(describeStep(await nextStep(steps))).toMatch(/^list@\d+: \/p\/a$/);
    await expect(steps.next()).rejects.toThrow("store unreachable");
  });
});
