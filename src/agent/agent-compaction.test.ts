import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { MemoryDriver } from "../drivers/memory/memory-driver.js";
import { MemoryHost } from "../drivers/memory/memory-host.js";
import { silentLogger } from "../ports/logger.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { behindCompaction } from "../testing/behind-compaction.js";
import { ManualClock } from "../testing/manual-clock.js";
import { seedVm } from "../testing/seed-vms.js";
import { Agent } from "./agent.js";

const NODE = "node-a";

describe("Agent and store compaction", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let driver: MemoryDriver;
  let agent: Agent | undefined;

  const record = (name: string): VmRecord => ({
    name,
    spec: parseVmSpec({ name, kernel: "/k" }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: new Date(clock.now()).toISOString(),
  });
  const settle = async () => {
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setImmediate(r));
      await agent?.idle();
    }
  };

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    driver = new MemoryDriver(new MemoryHost({ clock }));
  });
  afterEach(async () => {
    await agent?.shutdown({ stopVms: false });
    await store.close();
  });

  it("re-lists when compaction overtakes its watch, and starts the VM that the watch missed", async () => {
    const lag = behindCompaction(store);
    // The VM is assigned while the agent's watch lags; compaction then removes that history.
    lag.behind(1, () => seedVm(store, { ...record("missed"), node: NODE }));
    agent = new Agent({
      nodeId: NODE,
      store: lag.store,
      driver,
      clock,
      logger: silentLogger,
      prober: { tcp: async () => true, http: async () => true },
      stopOptions: { gracefulTimeoutMs: 1000, quitTimeoutMs: 1000, killTimeoutMs: 1000 },
      resyncIntervalMs: 1000,
    });
    await agent.start();
    await settle();
    expect(lag.compacted).toBe(1);
    // The re-list waits out the watch backoff (one second at most after a first failure).
    for (let t = 0; t < 2000; t += 250) {
      clock.advance(250);
      await settle();
    }
    expect((await driver.inspect("missed")).state).toBe("running");
    // ...and it follows the store again from the re-listed revision.
    await seedVm(store, { ...record("later"), node: NODE });
    await settle();
    expect((await driver.inspect("later")).state).toBe("running");
  });
});
