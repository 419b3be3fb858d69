/**
 * The single node's store under 100,000 status writes on a real disk (synchronous=FULL), with the
 * compactor and without, side by side: write rate, size on disk, and how long one compaction pass
 * holds the event loop (better-sqlite3 is synchronous), in the steady state and after a burst. Also
 * the one-time conversion of a store written before auto_vacuum was set. The unit test
 * store/sqlite/compaction-soak.test.ts checks the bound on tmpfs; this measures the costs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { SqliteCompactor } from "../store/sqlite/sqlite-compactor.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { soakStatus } from "../testing/status-writes.js";
import { median } from "./stats.js";

export interface CompactionFigures {
  writes: number;
  retain: number;
  compacted: { writesPerSec: number; maxBytes: number; finalBytes: number; passMs: number[] };
  uncompacted: { writesPerSec: number; finalBytes: number };
  /** Opening the uncompacted store as an older Blixard left it: the one-time VACUUM. */
  conversionMs: number;
  /** Then one pass over its whole history, as after a burst of writes, done in steps. */
  burstPassMs: number;
  /** The longest the event loop was held during that pass (one step). */
  burstStallMs: number;
  burstReclaimedBytes: number;
}

const KEYS = 50;
const status = (i: number) => soakStatus(i, KEYS);
const size = async (store: SqliteStore) => {
  const { bytes } = await store.status();
  return bytes.db + bytes.wal;
};

/** The longest gap between two turns of the event loop while `work` runs. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await work();
  } finally {
    running = false;
  }
  return longest;
}

/** Writes CHUNK statuses to `store`; returns the milliseconds they took. */
async function chunk(store: SqliteStore, from: number): Promise<number> {
  const t0 = performance.now();
  for (let i = from; i < from + CHUNK; i++) await store.put(`/blixard/v1/status/vm-${i % KEYS}`, status(i));
  return performance.now() - t0;
}

const CHUNK = 1000;

export async function measureStoreCompaction(writes = 100_000, retain = 10_000): Promise<CompactionFigures> {
  const dir = mkdtempSync(join(tmpdir(), "blixard-bench-compaction-"));
  const clock = new ManualClock();
  const path = join(dir, "uncompacted.db");
  const compacted = await SqliteStore.open({ path: join(dir, "compacted.db"), clock });
  const uncompacted = await SqliteStore.open({ path, clock });
  try {
    const make = (store: SqliteStore) =>
      new SqliteCompactor({ store, clock, intervalMs: 60_000, retainRevisions: retain });
    const compactor = make(compacted);
    // The two stores take the same writes in alternating chunks, so that a busy machine slows both
    // alike. A pass runs after every chunk: far more often than once a minute in production.
    const passMs: number[] = [];
    let compactedMs = 0;
    let uncompactedMs = 0;
    let maxBytes = 0;
    for (let from = 0; from < writes; from += CHUNK) {
      compactedMs += await chunk(compacted, from);
      const p0 = performance.now();
      await compactor.compactOnce();
      passMs.push(performance.now() - p0);
      compactedMs += passMs[passMs.length - 1]!;
      maxBytes = Math.max(maxBytes, await size(compacted));
      uncompactedMs += await chunk(uncompacted, from);
    }
    const finalBytes = await size(compacted);
    const uncompactedBytes = await size(uncompacted);
    await uncompacted.close();

    // An older Blixard never compacted and stored without auto_vacuum: its whole history, rewritten
    // once at open. Then the first pass over that history, as after a burst of writes.
    const raw = new Database(path);
    raw.pragma("auto_vacuum = NONE");
    raw.exec("VACUUM");
    raw.close();
    const c0 = performance.now();
    const converted = await SqliteStore.open({ path, clock });
    const conversionMs = performance.now() - c0;
    const burst = make(converted);
    const b0 = performance.now();
    const burstStallMs = await longestStall(() => burst.compactOnce());
    const burstPassMs = performance.now() - b0;
    await converted.close();

    return {
      writes,
      retain,
      compacted: { writesPerSec: writes / (compactedMs / 1000), maxBytes, finalBytes, passMs },
      uncompacted: { writesPerSec: writes / (uncompactedMs / 1000), finalBytes: uncompactedBytes },
      burstPassMs,
      burstStallMs,
      burstReclaimedBytes: burst.stats.reclaimedBytes,
      conversionMs,
    };
  } finally {
    await compacted.close();
    await uncompacted.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs alone: `node dist/bench/store-compaction.js [writes]`. */
if (import.meta.url === `file://${process.argv[1]}`) {
  const f = await measureStoreCompaction(Number(process.argv[2] ?? 100_000));
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  console.log(
    JSON.stringify(
      {
        ...f,
        compacted: {
          ...f.compacted,
          passMs: undefined,
          medianPassMs: median(f.compacted.passMs),
          maxPassMs: Math.max(...f.compacted.passMs),
        },
        MiB: {
          compactedMax: mib(f.compacted.maxBytes),
          compactedFinal: mib(f.compacted.finalBytes),
          uncompacted: mib(f.uncompacted.finalBytes),
        },
      },
      null,
      2,
    ),
  );
}
