import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listNodes } from "../api/node-service.js";
import type { NodeRecord } from "../core/node-record.js";
import { silentLogger } from "../ports/logger.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { NodeRegistration } from "./node-registration.js";

const TTL = 5;

describe("NodeRegistration", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  const record = (id: string): NodeRecord => ({
    id,
    apiUrl: `http://127.0.0.1:700${id.length}`,
    labels: { zone: "a" },
    capacity: { vcpus: 2, memoryMiB: 4096, drivers: ["qemu"] },
    startedAt: new Date(clock.now()).toISOString(),
  });
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 250) {
      clock.advance(250);
      await settle();
    }
  };

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
  });
  afterEach(async () => store.close());

  it("shows a registered node Ready with its labels and capacity, for as long as it renews", async () => {
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("n1"),
      ttlSeconds: TTL,
    });
    await reg.start();
    await advance(TTL * 3 * 1000);
    expect(await listNodes(store)).toEqual([
      { ...record("n1"), startedAt: expect.any(String), state: "Ready", cordoned: false, draining: false },
    ]);
    await reg.stop();
  });

  it("shows a node NotReady once its lease expires, and keeps its record", async () => {
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("n1"),
      ttlSeconds: TTL,
    });
    await reg.start();
    reg.abandon();
    await advance(TTL * 3 * 1000);
    expect((await listNodes(store)).map((n) => [n.id, n.state])).toEqual([["n1", "NotReady"]]);
  });

  it("shows a node NotReady at once when it leaves cleanly", async () => {
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("n1"),
      ttlSeconds: TTL,
    });
    await reg.start();
    await reg.stop();
    expect((await listNodes(store))[0]?.state).toBe("NotReady");
  });

  it("registers again after its lease was lost", async () => {
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("n1"),
      ttlSeconds: TTL,
    });
    await reg.start();
    const alive = await store.range("/blixard/v1/alive/");
    await store.revokeLease(alive.kvs[0]!.lease);
    expect((await listNodes(store))[0]?.state).toBe("NotReady");
    await advance(TTL * 1000);
    expect((await listNodes(store))[0]?.state).toBe("Ready");
    await reg.stop();
  });

  it("calls onLost a TTL after the last renewal that got through, and onRegained when one does again", async () => {
    const events: string[] = [];
    let unreachable = false;
    const keepAlive = store.keepAlive.bind(store);
    store.keepAlive = async (id) => {
      if (unreachable) throw new Error("store unreachable");
      return keepAlive(id);
    };
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("a"),
      ttlSeconds: TTL,
      onLost: () => events.push(`lost at ${clock.now()}`),
      onRegained: () => events.push(`regained at ${clock.now()}`),
    });
    await reg.start();
    await advance(20_000);
    expect(events).toEqual([]);

    unreachable = true;
    const cutAt = clock.now();
    await advance(10_000);
    // The last renewal that got through was sent at most a third of the TTL before the cut.
    expect(events).toHaveLength(1);
    const lostAt = Number(events[0]!.split(" ")[2]);
    expect(lostAt).toBeGreaterThan(cutAt + (TTL * 1000 * 2) / 3 - 250);
    expect(lostAt).toBeLessThanOrEqual(cutAt + TTL * 1000);
    expect(reg.isLost).toBe(true);

    unreachable = false;
    await advance(3_000);
    expect(events[1]).toMatch(/^regained/);
    expect(reg.isLost).toBe(false);
    await reg.stop();
  });

  it("starts even when the store does not answer yet, and registers once it does", async () => {
    let down = true;
    const put = store.put.bind(store);
    store.put = async (key, value, options) => {
      if (down) throw new Error("store unreachable");
      return put(key, value, options);
    };
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("late"),
      ttlSeconds: TTL,
    });
    await reg.start();
    expect(await listNodes(store)).toEqual([]);
    down = false;
    await advance(TTL * 1000);
    expect(await listNodes(store)).toMatchObject([{ id: "late", state: "Ready" }]);
    await reg.stop();
  });
  it("counts a restarted node lost at once when its previous process last renewed more than a TTL ago", async () => {
    const events: string[] = [];
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("back"),
      ttlSeconds: TTL,
      lastRenewedAt: clock.now() - TTL * 1000 - 1,
      onLost: () => events.push("lost"),
      onRegained: () => events.push("regained"),
    });
    const starting = reg.start();
    // Synchronously, before the first store call: the agent must start nothing meanwhile.
    expect(events).toEqual(["lost"]);
    await starting;
    expect(events).toEqual(["lost", "regained"]);
    await reg.stop();
  });

  it("counts a restarted node that cannot register lost a TTL after its previous process's last renewal", async () => {
    const events: number[] = [];
    store.put = async () => {
      throw new Error("store unreachable");
    };
    const last = clock.now() - 2000;
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("stuck"),
      ttlSeconds: TTL,
      lastRenewedAt: last,
      onLost: () => events.push(clock.now()),
    });
    await reg.start();
    expect(events).toEqual([]);
    await advance(TTL * 1000);
    expect(events).toEqual([last + TTL * 1000]);
    await reg.stop();
  });

  it("counts a new node that never registers lost a TTL after it started", async () => {
    const events: number[] = [];
    store.put = async () => {
      throw new Error("store unreachable");
    };
    const startedAt = clock.now();
    const reg = new NodeRegistration({
      store,
      clock,
      logger: silentLogger,
      record: record("never"),
      ttlSeconds: TTL,
      onLost: () => events.push(clock.now()),
    });
    await reg.start();
    await advance(TTL * 1000 + 1000);
    expect(events).toEqual([startedAt + TTL * 1000]);
    await reg.stop();
  });
});
