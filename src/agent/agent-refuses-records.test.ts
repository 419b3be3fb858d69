/**
 * Defence in depth: the agent acts only on assignments holding VM records that a valid API call could
 * have written. The attack: whoever can write the store (`etcdctl put /blixard/v1/assignments/n/x ...`
 * on an open etcd, or a direct write to the SQLite file) plants a record with a kernel path that
 * climbs out, an unknown field, or a microvm runner combined with what the API refuses. The driver
 * must never be asked to touch it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VmRepository } from "../api/vm-repository.js";
import type { VmEvent } from "../core/events.js";
import { keys } from "../core/keys.js";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { MemoryDriver } from "../drivers/memory/memory-driver.js";
import { MemoryHost } from "../drivers/memory/memory-host.js";
import { silentLogger } from "../ports/logger.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { placeOn } from "../testing/seed-vms.js";
import { Agent } from "./agent.js";

const NODE = "node-a";

describe("Agent refusing records the API could not have written", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let driver: MemoryDriver;
  let repo: VmRepository;
  let agent: Agent;

  function valid(name: string): VmRecord {
    return {
      name,
      spec: parseVmSpec({ name, kernel: "/k" }),
      desiredState: "running",
      restartNonce: 0,
      deleting: false,
      createdAt: new Date(clock.now()).toISOString(),
    };
  }

  /** Plants `record` as node `node`'s assignment of VM `name` (a string: the raw value). */
  async function put(name: string, record: unknown, node = NODE): Promise<void> {
    const text = typeof record === "string" ? record : JSON.stringify({ record, epoch: 1 });
    await store.txn({
      compare: [],
      success: [{ type: "put", key: keys.assignment(node, name), value: text }],
    });
  }

  async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      await agent.idle();
    }
  }

  async function events(vm: string): Promise<VmEvent[]> {
    const { kvs } = await store.range(keys.eventsPrefix);
    return kvs.map((kv) => JSON.parse(kv.value) as VmEvent).filter((e) => e.vm === vm);
  }

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    driver = new MemoryDriver(new MemoryHost({ clock }));
    repo = new VmRepository(store, clock);
    agent = new Agent({
      nodeId: NODE,
      store,
      driver,
      clock,
      logger: silentLogger,
      prober: { tcp: async () => true, http: async () => true },
      stopOptions: { gracefulTimeoutMs: 1000, quitTimeoutMs: 1000, killTimeoutMs: 1000 },
      resyncIntervalMs: 1000,
    });
    await agent.start();
  });

  afterEach(async () => {
    await agent.shutdown({ stopVms: false });
    await store.close();
  });

  const base = () => valid("x");
  it.each<[string, () => unknown, RegExp]>([
    [
      "a kernel path that climbs out",
      () => ({ ...base(), spec: { ...base().spec, kernel: "/boot/../etc/shadow" } }),
      /spec\.kernel/,
    ],
    [
      "an unknown spec field",
      () => ({ ...base(), spec: { ...base().spec, exec: "/bin/sh -c id" } }),
      /spec.*exec/,
    ],
    [
      "a microvm runner on a qemu VM",
      () => ({ ...base(), spec: { ...base().spec, microvm: { runner: "/tmp/evil" } } }),
      /spec\.microvm/,
    ],
    [
      "a runner with a disk the API refuses",
      () => ({
        ...base(),
        spec: {
          ...base().spec,
          driver: "microvm-nix",
          kernel: undefined,
          disk: "/dev/sda",
          microvm: {
            ...parseVmSpec({ name: "x", driver: "microvm-nix", microvm: {} }).microvm,
            runner: "/tmp/evil",
          },
        },
      }),
      /spec\.disk/,
    ],
    [
      "a privileged host port forward",
      () => ({ ...base(), spec: { ...base().spec, forwards: [{ host: 22, guest: 22, protocol: "tcp" }] } }),
      /spec\.forwards\.0\.host/,
    ],
    ["an unknown record field", () => ({ ...base(), runAs: "root" }), /runAs/],
    ["no spec at all", () => ({ name: "x", desiredState: "running" }), /spec/],
    ["an inline placement from an older writer", () => ({ ...base(), node: NODE }), /node/],
    ["a record stored under another VM's name", () => ({ ...valid("y") }), /stored under key "x"/],
  ])(
    "refuses %s: nothing started, a refused event and a Failed status say why",
    async (_what, hostile, why) => {
      await put("x", hostile());
      await settle();
      clock.advance(1000);
      await settle();
      expect(driver.calls.filter((c) => c.name === "x" && c.op !== "adopt")).toEqual([]);
      const refused = (await events("x")).filter((e) => e.type === "refused");
      // Reported once, not at every resync.
      expect(refused).toHaveLength(1);
      expect(refused[0]!.reason).toMatch(why);
      const status = JSON.parse((await store.get(keys.status("x")))!.value) as {
        phase: string;
        message: string;
      };
      expect(status.phase).toBe("Failed");
      expect(status.message).toMatch(/^refused: /);
    },
  );

  it("refuses an assignment that is not JSON, or not an assignment, and keeps serving valid ones", async () => {
    await put("x", "{not json");
    await put("z", JSON.stringify({ record: valid("z") }));
    await repo.create(valid("web"));
    await placeOn(store, "web", NODE);
    await settle();
    expect(driver.starts("x")).toBe(0);
    expect(driver.starts("z")).toBe(0);
    expect(driver.starts("web")).toBe(1);
    clock.advance(1000);
    await settle();
    // The key says whose it is: this node reports it.
    expect((await events("x")).map((e) => e.type)).toEqual(["refused"]);
    expect((await events("z"))[0]?.reason).toMatch(/epoch/);
  });

  it("starts the VM once a valid record replaces the hostile one", async () => {
    await put("x", { ...base(), spec: { ...base().spec, kernel: "/etc/../etc/shadow" } });
    await settle();
    expect(driver.starts("x")).toBe(0);
    await put("x", valid("x"));
    await settle();
    expect(driver.starts("x")).toBe(1);
  });

  it("leaves alone a hostile record assigned to another node (its agent reports it)", async () => {
    await put("x", { ...base(), spec: { ...base().spec, kernel: "/etc/../shadow" } }, "node-b");
    await settle();
    expect(driver.calls.filter((c) => c.name === "x")).toEqual([]);
    expect(await events("x")).toEqual([]);
  });
});
