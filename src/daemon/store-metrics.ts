/**
 * /metrics for the embedded SQLite store: its size on disk, its revision and compaction point, and
 * what the compactor did. All read at scrape time. (An etcd member exports its own metrics.)
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { CompactorStats } from "../store/sqlite/sqlite-compactor.js";
import type { SqliteStoreStatus } from "../store/sqlite/sqlite-store.js";

export interface SqliteMetricsSource {
  status(): Promise<SqliteStoreStatus>;
  compactor: CompactorStats;
}

export function registerSqliteStoreMetrics(registry: Registry, source: SqliteMetricsSource): void {
  // Each gauge reads on its own: a status is a few SQLite reads and two stat calls.
  const status = () => source.status();
  new Gauge({
    name: "blixard_store_size_bytes",
    help: "Disk space of the SQLite store: the database file and its write-ahead log",
    labelNames: ["file"],
    registers: [registry],
    async collect() {
      const { bytes } = await status();
      this.set({ file: "db" }, bytes.db);
      this.set({ file: "wal" }, bytes.wal);
    },
  });
  new Gauge({
    name: "blixard_store_revision",
    help: "The store's current revision (one per committed write)",
    registers: [registry],
    async collect() {
      this.set((await status()).revision);
    },
  });
  new Gauge({
    name: "blixard_store_compact_revision",
    help: "History before this revision is compacted; a watch from an earlier one must re-list",
    registers: [registry],
    async collect() {
      this.set((await status()).compactRevision);
    },
  });
  counter(
    registry,
    "blixard_store_compactions_total",
    "Compactions of the store's revision log",
    () => source.compactor.compactions,
  );
  counter(
    registry,
    "blixard_store_compaction_failures_total",
    "Compaction passes that failed (retried at the next interval; the log says why)",
    () => source.compactor.failures,
  );
  counter(
    registry,
    "blixard_store_reclaimed_bytes_total",
    "Disk space given back to the file system after compactions",
    () => source.compactor.reclaimedBytes,
  );
}

/** A counter that mirrors a count kept elsewhere, cumulatively across scrapes. */
function counter(registry: Registry, name: string, help: string, read: () => number): void {
  let counted = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      this.inc(now - counted);
      counted = now;
    },
  });
}
