import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { silentLogger } from "../ports/logger.js";
import type { Compare } from "../ports/store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { behindCompaction } from "../testing/behind-compaction.js";
import { ManualClock } from "../testing/manual-clock.js";
import { scheduledOf, seedVm } from "../testing/seed-vms.js";
import { Scheduler } from "./scheduler.js";

const node: NodeRecord = {
  id: "a",
  apiUrl: "http://a:7001",
  labels: {},
  capacity: { vcpus: 2, memoryMiB: 2048, drivers: ["qemu"] },
  allowance: { reserved: { vcpus: 0, memoryMiB: 0 }, overcommit: { cpu: 1, memory: 1 } },
  startedAt: "2026-11-22T00:00:00.000Z",
};

const vm = (name: string): VmRecord => ({
  name,
  spec: parseVmSpec({ name, kernel: "/k", memory: 256 }),
  desiredState: "running",
  restartNonce: 0,
  deleting: false,
  createdAt: "2026-11-22T00:00:00.000Z",
});

describe("Scheduler and store compaction", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let scheduler: Scheduler | undefined;

  const settle = async () => {
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
  };
  const placedOn = async (name: string) => (await scheduledOf(store, name))?.node;

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
  });
  afterEach(async () => {
    scheduler?.stop();
    await store.close();
  });

  it("reloads when compaction overtakes a watch that fell behind, and places the VM it missed", async () => {
    const revision = await store.put(keys.leader, "me");
    const fence: Compare = { key: keys.leader, target: "createRevision", op: "=", value: revision };
    await store.put(keys.node("a"), JSON.stringify(node));
    await store.put(keys.alive("a"), "x");
    const lag = behindCompaction(store);
    // The first watch of the load (the VMs') lags: the VM is created meanwhile, then compacted away.
    lag.behind(1, () => store.put(keys.vm("missed"), JSON.stringify(vm("missed"))));
    scheduler = new Scheduler({
      store: lag.store,
      clock,
      logger: silentLogger,
      random: { next: () => 0, hex: () => "00" },
      config: { defaultStrategy: "spread", graceMs: 5_000 },
      fence: () => fence,
    });
    scheduler.start();
    await settle();
    expect(lag.compacted).toBe(1);
    // The first reload after a failure runs at once.
    expect(await placedOn("missed")).toBe("a");
    // ...and the reloaded watches follow the store.
    await seedVm(store, vm("later"));
    await settle();
    expect(await placedOn("later")).toBe("a");
  });
});
