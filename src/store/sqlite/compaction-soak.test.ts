/**
 * The soak of issue 13: 100,000 writes that overwrite a few keys (as VM status updates do) leave the
 * store's files bounded while the compactor runs, and grow with every write while it does not.
 * The files live on /dev/shm when it exists: what is measured is their size, and tmpfs makes the
 * 100,000 fsyncs of synchronous=FULL free, which keeps the test to seconds.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../testing/manual-clock.js";
import { soakStatus } from "../../testing/status-writes.js";
import { SqliteCompactor } from "./sqlite-compactor.js";
import { SqliteStore } from "./sqlite-store.js";

const WRITES = 100_000;
const KEYS = 50;
const WRITES_PER_INTERVAL = 1_000;
const RETAIN = 1_000;
const MIB = 2 ** 20;

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

const status = (i: number) => soakStatus(i, KEYS);

/** Writes WRITES statuses; returns the largest and the final size of database plus WAL. */
async function soak(path: string, compact: boolean): Promise<{ maxBytes: number; finalBytes: number }> {
  const clock = new ManualClock();
  const store = await SqliteStore.open({ path, clock });
  const compactor = new SqliteCompactor({ store, clock, intervalMs: 1000, retainRevisions: RETAIN });
  if (compact) compactor.start();
  let maxBytes = 0;
  try {
    for (let i = 0; i < WRITES; i++) {
      await store.put(`/blixard/status/vm-${i % KEYS}`, status(i));
      if ((i + 1) % WRITES_PER_INTERVAL === 0) {
        clock.advance(1000);
        await settle();
        const { bytes } = await store.status();
        maxBytes = Math.max(maxBytes, bytes.db + bytes.wal);
      }
    }
    const { bytes, revision, compactRevision } = await store.status();
    expect(revision).toBe(WRITES + 1);
    if (compact) expect(compactRevision).toBeGreaterThan(WRITES - RETAIN - WRITES_PER_INTERVAL);
    return { maxBytes, finalBytes: bytes.db + bytes.wal };
  } finally {
    await compactor.stop();
    await store.close();
  }
}

describe("store compaction soak", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("keeps the store's files bounded through 100,000 status writes, which grow it linearly without compaction", async () => {
    dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "blixard-soak-"));
    const compacted = await soak(join(dir, "compacted.db"), true);
    const uncompacted = await soak(join(dir, "uncompacted.db"), false);
    // Bounded: the log holds at most RETAIN + one interval's revisions, about 1 MiB, plus a WAL that
    // SQLite's own checkpoints reuse (about 4 MiB at most between two compactions).
    expect(compacted.maxBytes).toBeLessThan(8 * MIB);
    expect(compacted.finalBytes).toBeLessThan(2 * MIB);
    // Without compaction every write stays in the log: tens of MiB, and growing.
    expect(uncompacted.finalBytes).toBeGreaterThan(20 * MIB);
    expect(uncompacted.finalBytes).toBeGreaterThan(10 * compacted.maxBytes);
  }, 60_000);
});
