import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import type { ScheduledVm } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { silentLogger } from "../ports/logger.js";
import type { Compare } from "../ports/store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { scheduledOf, seedVm } from "../testing/seed-vms.js";
import { Scheduler } from "./scheduler.js";

const node = (id: string): NodeRecord => ({
  id,
  apiUrl: `http://${id}:7001`,
  labels: {},
  capacity: { vcpus: 2, memoryMiB: 2048, drivers: ["qemu"] },
  allowance: { reserved: { vcpus: 0, memoryMiB: 0 }, overcommit: { cpu: 1, memory: 1 } },
  startedAt: "2026-11-22T00:00:00.000Z",
});

/** A VM whose local volume `data` lives on node b (api/vm-repository.ts records it at create). */
const withVolume = (name: string, nodeId = ""): ScheduledVm => ({
  name,
  spec: parseVmSpec({ name, kernel: "/k", memory: 512, volumes: [{ name: "data" }] }),
  desiredState: "running",
  node: nodeId,
  restartNonce: 0,
  deleting: false,
  createdAt: "2026-11-22T00:00:00.000Z",
  volumeNode: { volume: "data", node: "b" },
});

describe("Scheduler with local volumes", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let scheduler: Scheduler;

  const settle = async () => {
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
  };
  const record = async (name: string) => (await scheduledOf(store, name))!;
  const register = async (id: string, alive: boolean) => {
    await store.put(keys.node(id), JSON.stringify(node(id)));
    if (alive) await store.put(keys.alive(id), "x");
    else await store.delete(keys.alive(id));
  };

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    const revision = await store.put(keys.leader, "me");
    const fence: Compare = { key: keys.leader, target: "createRevision", op: "=", value: revision };
    scheduler = new Scheduler({
      store,
      clock,
      logger: silentLogger,
      random: { next: () => 0, hex: () => "00" },
      config: { defaultStrategy: "spread", graceMs: 5_000 },
      fence: () => fence,
    });
  });
  afterEach(async () => {
    scheduler.stop();
    await store.close();
  });

  it("keeps a VM Pending, naming the volume and its node, while that node is down; places it there when it is back", async () => {
    await register("a", true);
    await register("b", false);
    scheduler.start();
    await settle();
    await seedVm(store, withVolume("web"));
    await settle();
    const pending = await record("web");
    expect(pending.node).toBe("");
    expect(pending.unschedulable).toBe("no node can run VM web: b: holds local volume data, but is NotReady");
    await register("b", true);
    await settle();
    expect(await record("web")).toMatchObject({ node: "b" });
  });

  it("never moves a VM off its lost volume node to another node", async () => {
    await register("a", true);
    await register("b", true);
    await seedVm(store, withVolume("web", "b"));
    scheduler.start();
    await settle();
    await register("b", false);
    await settle();
    clock.advance(6_000);
    await settle();
    const after = await record("web");
    expect(after.node).not.toBe("a");
    await register("b", true);
    await settle();
    clock.advance(1_000);
    await settle();
    expect(await record("web")).toMatchObject({ node: "b" });
  });
});
