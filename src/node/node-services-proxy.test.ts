/**
 * The service proxy inside the production node composition: a VM of a group, placed by the node's
 * own scheduler and run by its agent (memory driver), becomes a member of the service's rules once
 * the agent reports it Running; stopping the node removes the table.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removeServiceTable } from "../agent/services/service-table.js";
import { keys } from "../core/keys.js";
import { encodeServiceRecord } from "../core/service-record.js";
import { parseServiceSpec } from "../core/service-spec.js";
import { encodeVmRecord } from "../core/vm-record-codec.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { MemoryDriver } from "../drivers/memory/memory-driver.js";
import { MemoryHost } from "../drivers/memory/memory-host.js";
import { silentLogger } from "../ports/logger.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { NodeServices } from "./node-services.js";

describe("NodeServices with the service proxy", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let scripts: string[];
  let node: NodeServices;

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    scripts = [];
    node = new NodeServices({
      store,
      driver: new MemoryDriver(new MemoryHost({ clock })),
      clock,
      logger: silentLogger,
      random: { next: () => 0.5, hex: (n) => "0".repeat(n * 2) },
      prober: { tcp: async () => true, http: async () => true },
      record: {
        id: "n1",
        apiUrl: "http://127.0.0.1:7001",
        labels: {},
        capacity: { vcpus: 8, memoryMiB: 8192, drivers: ["qemu"], networks: ["user", "bridge"] },
        startedAt: new Date(clock.now()).toISOString(),
      },
      leaseTtlSeconds: 5,
      scheduler: { defaultStrategy: "spread", graceMs: 5000 },
      stopOptions: { gracefulTimeoutMs: 1000, quitTimeoutMs: 1000, killTimeoutMs: 1000 },
      serviceProxy: {
        apply: async (script) => {
          scripts.push(script);
        },
        hostAddresses: ["192.168.7.2"],
        reservedPorts: [7001, 7002, 7003],
      },
    });
  });

  afterEach(async () => {
    await store.close();
  });

  async function until(done: () => boolean): Promise<void> {
    for (let i = 0; i < 300 && !done(); i++) {
      await new Promise((r) => setImmediate(r));
      clock.advance(100);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(done()).toBe(true);
  }

  it("balances to a VM its agent reports Running, and removes the table when the node stops", async () => {
    const spec = parseServiceSpec({ name: "web", port: 80, targetPort: 8080, group: "web", hostPort: 7001 });
    await store.put(
      keys.service("web"),
      encodeServiceRecord({ name: "web", spec, address: "10.89.0.9", createdAt: "2026-12-03T00:00:00Z" }),
    );
    const vmSpec = parseVmSpec({ name: "web-1", network: "bridge", kernel: "/images/vmlinuz" });
    const record = { name: "web-1", spec: vmSpec, desiredState: "running" as const, restartNonce: 0 };
    await store.put(
      keys.vm("web-1"),
      encodeVmRecord({
        ...record,
        deleting: false,
        createdAt: "2026-12-03T00:00:00Z",
        group: "web",
        address: "10.88.0.7",
      }),
    );
    await node.start();
    await until(() => (scripts.at(-1) ?? "").includes("map { 0 : 10.88.0.7 . 8080 }"));
    // The node's own API port is never taken, whatever the service asks for.
    expect(scripts.join("")).not.toContain("dport 7001");
    await node.stop({ stopVms: true, keepLease: false });
    expect(scripts.at(-1)).toBe(removeServiceTable());
  });
});
