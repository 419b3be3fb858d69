import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../testing/manual-clock.js";
import { WatchReader } from "../contract/context.contract.js";
import { fileBytes } from "./space.js";
import { SqliteStore } from "./sqlite-store.js";

const autoVacuum = (path: string) => {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.pragma("auto_vacuum", { simple: true });
  } finally {
    raw.close();
  }
};
const total = (path: string) => fileBytes(path).db + fileBytes(path).wal;
const BIG = "v".repeat(2000);

describe("SqliteStore disk space", () => {
  let dir: string;
  let path: string;
  const clock = new ManualClock();
  const opened: SqliteStore[] = [];
  const open = async () => {
    const store = await SqliteStore.open({ path, clock });
    opened.push(store);
    return store;
  };
  const fill = async (store: SqliteStore, writes: number) => {
    for (let i = 0; i < writes; i++) await store.put(`/s/${i % 10}`, `${i}${BIG}`);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "blixard-space-"));
    path = join(dir, "store.db");
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates a new store with incremental vacuum", async () => {
    await (await open()).close();
    expect(autoVacuum(path)).toBe(2);
  });

  it("converts a store written before auto_vacuum was set, keeping its data and its history", async () => {
    const first = await open();
    const start = (await first.revision()) + 1;
    await fill(first, 50);
    await first.close();
    // What an older Blixard left on disk: the same schema, auto_vacuum off.
    const raw = new Database(path);
    raw.pragma("auto_vacuum = NONE");
    raw.exec("VACUUM");
    raw.close();
    expect(autoVacuum(path)).toBe(0);

    const store = await open();
    expect((await store.get("/s/9"))?.value).toBe(`49${BIG}`);
    const reader = new WatchReader(store.watch("/s/", { fromRevision: start }));
    expect((await reader.events(50)).map((e) => e.kv.value.slice(0, 2))).toContain("49");
    reader.close();
    await store.close();
    expect(autoVacuum(path)).toBe(2);
  });

  it("gives a compacted history's space back to the file system and empties the WAL", async () => {
    const store = await open();
    await fill(store, 2000);
    const grown = total(path);
    // Compaction alone only frees pages inside the file: it stays as large.
    await store.compact(await store.revision());
    expect(fileBytes(path).db).toBeGreaterThan(grown / 4);
    await store.reclaimSpace();
    const after = fileBytes(path);
    expect(after.wal).toBe(0);
    expect(after.db).toBeLessThan(grown / 10);
    // The store is whole: it reads, writes and watches as before.
    expect((await store.get("/s/9"))?.value).toBe(`1999${BIG}`);
    const rev = await store.put("/s/new", "x");
    const reader = new WatchReader(store.watch("/s/", { fromRevision: rev }));
    expect((await reader.next()).events[0]?.kv.value).toBe("x");
    reader.close();
  });

  it("reports its revision, compaction point and size on disk", async () => {
    const store = await open();
    await fill(store, 20);
    await store.compact(10);
    const status = await store.status();
    expect(status).toMatchObject({ revision: 21, compactRevision: 10 });
    expect(status.bytes.db + status.bytes.wal).toBe(total(path));
    expect(status.bytes.db).toBeGreaterThan(0);
  });
});
