import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fileBytes } from "../store/sqlite/space.js";
import { SqliteCompactor } from "../store/sqlite/sqlite-compactor.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { createMetrics } from "./metrics.js";
import { registerSqliteStoreMetrics } from "./store-metrics.js";

const value = (text: string, series: string) =>
  Number(
    text
      .split("\n")
      .find((l) => l.startsWith(`${series} `))
      ?.slice(series.length + 1),
  );

describe("SQLite store metrics", () => {
  let dir: string;
  let store: SqliteStore;
  let compactor: SqliteCompactor;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "blixard-store-metrics-"));
    store = await SqliteStore.open({ path: join(dir, "store.db"), clock: new ManualClock() });
    compactor = new SqliteCompactor({
      store,
      clock: new ManualClock(),
      intervalMs: 1000,
      retainRevisions: 100,
    });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reports the size on disk, the revision, the compaction point and the compactions", async () => {
    const { registry } = createMetrics(async () => []);
    registerSqliteStoreMetrics(registry, { status: () => store.status(), compactor: compactor.stats });
    for (let i = 0; i < 1000; i++) await store.put(`/k/${i % 10}`, `${i}${"x".repeat(500)}`);
    let text = await registry.metrics();
    const before = fileBytes(join(dir, "store.db"));
    expect(value(text, 'blixard_store_size_bytes{file="db"}')).toBe(before.db);
    expect(value(text, 'blixard_store_size_bytes{file="wal"}')).toBe(before.wal);
    expect(value(text, "blixard_store_revision")).toBe(1001);
    expect(value(text, "blixard_store_compact_revision")).toBe(0);
    expect(value(text, "blixard_store_compactions_total")).toBe(0);

    await compactor.compactOnce();
    text = await registry.metrics();
    expect(value(text, "blixard_store_compact_revision")).toBe(901);
    expect(value(text, "blixard_store_compactions_total")).toBe(1);
    expect(value(text, 'blixard_store_size_bytes{file="wal"}')).toBe(0);
    expect(value(text, "blixard_store_reclaimed_bytes_total")).toBeGreaterThan(0);
    // Counters stay cumulative across scrapes.
    text = await registry.metrics();
    expect(value(text, "blixard_store_compactions_total")).toBe(1);

    // promtool comes from Debian's prometheus package; a missing promtool fails instead of skipping.
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(check.error, "promtool must be installed (scripts/install-system-deps.sh)").toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toBe("");
    expect(check.status).toBe(0);
  });
});
