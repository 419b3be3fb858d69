import { createClient, createRouterTransport } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { NodeService } from "../gen/blixard/v1/node_pb.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { scheduledOf, seedVm } from "../testing/seed-vms.js";
import { withErrorMapping } from "./error-mapping.js";
import { nodeServiceImpl } from "./node-service.js";

describe("NodeService", () => {
  let store: SqliteStore;
  let client: ReturnType<typeof createClient<typeof NodeService>>;
  const record = (id: string): NodeRecord => ({
    id,
    apiUrl: `http://10.0.0.${id.length}:7001`,
    labels: { zone: id },
    capacity: { vcpus: 8, memoryMiB: 32768, drivers: ["qemu"] },
    startedAt: "2026-11-22T00:00:00.000Z",
  });

  beforeEach(async () => {
    store = await SqliteStore.open({ path: ":memory:", clock: new ManualClock() });
    const impl = nodeServiceImpl({
      store,
      clock: new ManualClock(),
      writer: "n1",
      leader: async () => "b",
    });
    client = createClient(
      NodeService,
      createRouterTransport((r) => r.service(NodeService, withErrorMapping(impl))),
    );
  });
  afterEach(async () => store.close());

  it("lists nodes with state, capacity and the leader marked", async () => {
    for (const id of ["b", "a"]) await store.put(keys.node(id), JSON.stringify(record(id)));
    const lease = await store.grantLease(10);
    await store.put(keys.alive("b"), "x", { lease: lease.id });
    const { nodes } = await client.listNodes({});
    expect(nodes.map((n) => [n.id, n.state, n.leader])).toEqual([
      ["a", "NotReady", false],
      ["b", "Ready", true],
    ]);
    expect(nodes[1]?.capacity).toMatchObject({ vcpus: 8, memoryMib: 32768, drivers: ["qemu"] });
    expect(nodes[1]?.labels).toEqual({ zone: "b" });
  });

  it("accounts each node's allocatable, allocated and free resources from the VMs assigned to it", async () => {
    await store.put(
      keys.node("a"),
      JSON.stringify({
        ...record("a"),
        allowance: { reserved: { vcpus: 1, memoryMiB: 1024 }, overcommit: { cpu: 2, memory: 1 } },
      }),
    );
    await store.put(keys.node("b"), JSON.stringify(record("b")));
    const vm = (name: string, node: string, vcpus: number, memory: number) =>
      seedVm(store, {
        name,
        node,
        spec: parseVmSpec({ name, kernel: "/k", vcpus, memory }),
        desiredState: "running",
        restartNonce: 0,
        deleting: false,
        createdAt: "2026-01-01T00:00:00.000Z",
      });
    await vm("x", "a", 2, 2048);
    await vm("y", "a", 4, 512);
    await vm("z", "", 8, 8192); // not placed yet: counts nowhere
    const { node: a } = await client.getNode({ id: "a" });
    expect(a).toMatchObject({
      allocatable: { vcpus: 14, memoryMib: 31744 },
      allocated: { vcpus: 6, memoryMib: 2560 },
      free: { vcpus: 8, memoryMib: 29184 },
      vms: 2,
    });
    // A record without an allowance gets the defaults: 512 MiB reserved, 4 vcpus per CPU.
    const { node: b } = await client.getNode({ id: "b" });
    expect(b).toMatchObject({
      allocatable: { vcpus: 32, memoryMib: 32256 },
      allocated: { vcpus: 0 },
      vms: 0,
    });
  });

  it("answers NOT_FOUND for an unknown node", async () => {
    await expect(client.getNode({ id: "zz" })).rejects.toThrow(/node "zz" not found/);
  });

  it("cordons and uncordons a node", async () => {
    await store.put(keys.node("a"), JSON.stringify(record("a")));
    expect((await client.cordonNode({ id: "a" })).node).toMatchObject({ cordoned: true, draining: false });
    expect((await client.getNode({ id: "a" })).node?.cordoned).toBe(true);
    expect((await client.uncordonNode({ id: "a" })).node).toMatchObject({ cordoned: false });
    await expect(client.cordonNode({ id: "zz" })).rejects.toThrow(/node "zz" not found/);
  });

  it("drains a node by cordoning it as draining, naming the VMs that will move and who asked; it moves none itself", async () => {
    await store.put(keys.node("a"), JSON.stringify(record("a")));
    const vm = (name: string, node: string, deleting = false) =>
      seedVm(store, {
        name,
        node,
        deleting,
        epoch: 2,
        spec: parseVmSpec({ name, kernel: "/k", vcpus: 1, memory: 64 }),
        desiredState: "running",
        restartNonce: 0,
        createdAt: "2026-01-01T00:00:00.000Z",
      });
    await vm("x", "a");
    await vm("y", "b");
    await vm("z", "a", true);
    const res = await client.drainNode({ id: "a" });
    expect(res.vms).toEqual(["x"]);
    expect(res.node).toMatchObject({ cordoned: true, draining: true });
    // Placement belongs to the leader's scheduler (control/scheduler.ts takes x off a): the API wrote
    // the cordon and the request's event, and no placement.
    expect(await scheduledOf(store, "x")).toMatchObject({ node: "a", epoch: 2 });
    expect(JSON.parse((await store.get(keys.cordon("a")))!.value)).toMatchObject({ draining: true });
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value));
    expect(events).toEqual([
      expect.objectContaining({ type: "requested", node: "a", reason: "drain of a requested" }),
    ]);
  });
});
