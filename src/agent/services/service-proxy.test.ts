import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../../core/keys.js";
import { encodeServiceRecord } from "../../core/service-record.js";
import { parseServiceSpec } from "../../core/service-spec.js";
import type { VmStatus } from "../../core/vm-record.js";
import { encodeVmRecord } from "../../core/vm-record-codec.js";
import { parseVmSpec } from "../../core/vm-spec.js";
import { silentLogger } from "../../ports/logger.js";
import { SqliteStore } from "../../store/sqlite/sqlite-store.js";
import { ManualClock } from "../../testing/manual-clock.js";
import { reportStatus } from "../../testing/seed-vms.js";
import { ServiceProxy } from "./service-proxy.js";
import { removeServiceTable } from "./service-table.js";

describe("ServiceProxy", () => {
  let store: SqliteStore;
  let clock: ManualClock;
  let scripts: string[];
  let failNext: number;
  let proxy: ServiceProxy;

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    scripts = [];
    failNext = 0;
    proxy = new ServiceProxy({
      store,
      clock,
      logger: silentLogger,
      hostAddresses: ["192.168.7.2"],
      apply: async (script) => {
        if (failNext > 0) {
          failNext--;
          throw new Error("nft: busy");
        }
        scripts.push(script);
      },
    });
  });

  afterEach(async () => {
    await proxy.stop();
    await store.close();
  });

  /** Lets watch events arrive and timers fire until `done` holds. */
  async function until(done: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !done(); i++) {
      await sleep(2);
      clock.advance(100);
      await sleep(2);
    }
    expect(done()).toBe(true);
  }

  async function putService(
    name: string,
    extra: Record<string, unknown> = {},
    address = "10.89.0.42",
  ): Promise<void> {
    const spec = parseServiceSpec({ name, port: 80, targetPort: 8080, group: "web", ...extra });
    const record = { name, spec, address, createdAt: "2026-12-03T00:00:00Z" };
    await store.put(keys.service(name), encodeServiceRecord(record));
  }

  async function putMember(
    name: string,
    address: string,
    status: Partial<VmStatus> = {},
    group = "web",
  ): Promise<void> {
    const spec = parseVmSpec({ name, network: "bridge", kernel: "/images/vmlinuz" });
    const vm = { name, spec, desiredState: "running" as const, restartNonce: 0, deleting: false };
    await store.put(
      keys.vm(name),
      encodeVmRecord({ ...vm, createdAt: "2026-12-03T00:00:00Z", group, address }),
    );
    await store.put(keys.placement(name), JSON.stringify({ node: "n1", epoch: 1, recordRevision: 1 }));
    await setStatus(name, status);
  }

  /** A status as the VM's agent reports it: Running and healthy unless `status` says otherwise. */
  const setStatus = (name: string, status: Partial<VmStatus>) =>
    reportStatus(store, name, "n1", { phase: "Running", health: "healthy", ...status });

  const last = () => scripts[scripts.length - 1] ?? "";

  it("applies the services and their members, then follows member changes", async () => {
    await putService("web");
    await putMember("web-1", "10.88.0.5");
    await putMember("web-2", "10.88.0.6");
    await proxy.start();
    await until(() => scripts.length === 1);
    expect(last()).toContain("numgen random mod 2 map { 0 : 10.88.0.5 . 8080, 1 : 10.88.0.6 . 8080 }");

    // A member's node reports it failing its health check: it leaves the rules at the next rebuild.
    await setStatus("web-1", { health: "unhealthy" });
    await until(() => scripts.length === 2);
    expect(last()).toContain("numgen random mod 1 map { 0 : 10.88.0.6 . 8080 }");
  });

  it("gives each service the members of its own group only", async () => {
    await putService("web");
    await putService("api", { group: "api" }, "10.89.0.43");
    await putMember("web-1", "10.88.0.5");
    await putMember("api-1", "10.88.0.6", {}, "api");
    await proxy.start();
    await until(() => scripts.length === 1);
    expect(last()).toContain(
      "ip daddr 10.89.0.42 tcp dport 80 dnat ip to numgen random mod 1 map { 0 : 10.88.0.5 . 8080 }",
    );
    expect(last()).toContain(
      "ip daddr 10.89.0.43 tcp dport 80 dnat ip to numgen random mod 1 map { 0 : 10.88.0.6 . 8080 }",
    );
  });

  it("gathers a burst of changes into one rebuild, and skips one that changes nothing", async () => {
    await putService("web");
    await proxy.start();
    await until(() => scripts.length === 1);
    expect(last()).toContain("reject with tcp reset");
    for (let i = 1; i <= 10; i++) await putMember(`web-${i}`, `10.88.0.${10 + i}`);
    await until(() => last().includes("mod 10"));
    expect(scripts.length).toBe(2);
    // A status rewrite that leaves the members as they are writes nothing.
    await setStatus("web-1", { message: "still fine" });
    for (let i = 0; i < 5; i++) {
      await sleep(2);
      clock.advance(100);
    }
    await proxy.settled();
    expect(scripts.length).toBe(2);
  });

  it("tries a failed apply again, and removes the table when it stops", async () => {
    failNext = 2;
    await putService("web", { hostPort: 30080 });
    await putMember("web-1", "10.88.0.5");
    await proxy.start();
    await until(() => scripts.length === 1);
    expect(last()).toContain("ip daddr 192.168.7.2 tcp dport 30080 dnat ip to");
    await proxy.stop();
    expect(last()).toBe(removeServiceTable());
  });
});
