import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../testing/manual-clock.js";
import { WatchReader } from "../contract/context.contract.js";
import { runStoreContract, type StoreHarness } from "../store.contract.js";
import { SqliteStore } from "./sqlite-store.js";

/** Advances fake time, then yields once so that anything the fired timers started can settle. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await new Promise((resolve) => setImmediate(resolve));
}

async function fileHarness(): Promise<StoreHarness> {
  const dir = await mkdtemp(join(tmpdir(), "blixard-store-"));
  const path = join(dir, "state.db");
  const clock = new ManualClock();
  let store = await SqliteStore.open({ path, clock });
  return {
    get store() {
      return store;
    },
    passTime: (ms) => advance(clock, ms),
    async reopen() {
      await store.close();
      store = await SqliteStore.open({ path, clock });
      return store;
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function memoryHarness(): Promise<StoreHarness> {
  const clock = new ManualClock();
  const store = await SqliteStore.open({ path: ":memory:", clock });
  return { store, passTime: (ms) => advance(clock, ms), cleanup: () => store.close() };
}

runStoreContract("sqlite file", fileHarness);
runStoreContract("sqlite in memory (no reopen)", memoryHarness);

describe("SqliteStore", () => {
  let dir: string;
  let path: string;
  let clock: ManualClock;
  const opened: SqliteStore[] = [];
  const open = async (options: { busyTimeoutMs?: number } = {}) => {
    const store = await SqliteStore.open({ path, clock, ...options });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "blixard-store-"));
    path = join(dir, "state.db");
    clock = new ManualClock();
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the database in WAL mode", async () => {
    const store = await open();
    await store.put("/k", "v");
    expect(existsSync(`${path}-wal`)).toBe(true);
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    raw.close();
  });

  it("creates the database, and so its WAL file, readable only by its owner", async () => {
    const store = await open();
    await store.put("/k", "v");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
  });

  it("refuses a second opener of the same file with UNAVAILABLE while the first holds it", async () => {
    await open();
    await expect(open({ busyTimeoutMs: 20 })).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("fails to open with UNAVAILABLE when the directory does not exist", async () => {
    path = join(dir, "missing", "state.db");
    await expect(open()).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("refuses a database written by a newer schema", async () => {
    const raw = new Database(path);
    raw.pragma("user_version = 99");
    raw.close();
    await expect(open()).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringMatching(/newer/),
    });
  });

  it("deletes, at open, the leases that expired while it was closed, and records the deletes in the history", async () => {
    const first = await open();
    const start = (await first.revision()) + 1;
    const lease = await first.grantLease(10);
    await first.put("/l/k", "v", { lease: lease.id });
    await first.close();
    clock.advance(11_000);
    const store = await open();
    expect(await store.get("/l/k")).toBeUndefined();
    await expect(store.keepAlive(lease.id)).rejects.toMatchObject({ code: "LEASE_NOT_FOUND" });
    const reader = new WatchReader(store.watch("/l/", { fromRevision: start }));
    const events = await reader.events(2);
    expect(events.map((e) => [e.type, e.kv.key])).toEqual([
      ["put", "/l/k"],
      ["delete", "/l/k"],
    ]);
    reader.close();
  });

  it("keeps a lease's remaining time across a reopen", async () => {
    const first = await open();
    const lease = await first.grantLease(10);
    await first.put("/l/k", "v", { lease: lease.id });
    await advance(clock, 6000);
    await first.close();
    const store = await open();
    await advance(clock, 3000);
    expect(await store.get("/l/k")).toBeDefined();
    await advance(clock, 1000);
    expect(await store.get("/l/k")).toBeUndefined();
  });

  it("arms a timer only while a lease exists", async () => {
    const store = await open();
    expect(clock.pending()).toBe(0);
    const lease = await store.grantLease(5);
    expect(clock.pending()).toBe(1);
    await store.keepAlive(lease.id);
    expect(clock.pending()).toBe(1);
    await store.revokeLease(lease.id);
    expect(clock.pending()).toBe(0);
  });

  it("stops its timer when closed, so the process can exit", async () => {
    const store = await open();
    await store.grantLease(5);
    await store.close();
    expect(clock.pending()).toBe(0);
  });

  it("rejects keys that SQLite could not store exactly", async () => {
    const store = await open();
    await expect(store.put("/bad\uD800", "v")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
