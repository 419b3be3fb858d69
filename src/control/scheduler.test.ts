import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import type { NodeRecord } from "../core/node-record.js";
import { initialStatus, type Placement, type ScheduledVm, type VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { silentLogger } from "../ports/logger.js";
import type { Compare, Store, TxnRequest, Watch, WatchEvent } from "../ports/store.js";
import { deleteVmOps } from "../state/vm-transactions.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { breakableWatches } from "../testing/breakable-watches.js";
import { ManualClock } from "../testing/manual-clock.js";
import { recordOf, scheduledOf, seedVm } from "../testing/seed-vms.js";
import { Scheduler } from "./scheduler.js";

const event = () => ({ type: "put" as const, key: keys.event(1), value: "{}" });

const node = (id: string): NodeRecord => ({
  id,
  apiUrl: `http://${id}:7001`,
  labels: {},
  capacity: { vcpus: 2, memoryMiB: 2048, drivers: ["qemu"] },
  allowance: { reserved: { vcpus: 0, memoryMiB: 0 }, overcommit: { cpu: 1, memory: 1 } },
  startedAt: "2026-11-22T00:00:00.000Z",
});

const vm = (name: string, nodeId = ""): ScheduledVm => ({
  name,
  spec: parseVmSpec({ name, kernel: "/k", memory: 1024 }),
  desiredState: "running",
  node: nodeId,
  restartNonce: 0,
  deleting: false,
  createdAt: "2026-11-22T00:00:00.000Z",
});

describe("Scheduler", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let fence: Compare | undefined;
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

  const schedulerOn = (on: Store) =>
    new Scheduler({
      store: on,
      clock,
      logger: silentLogger,
      random: { next: () => 0, hex: () => "00" },
      config: { defaultStrategy: "spread", graceMs: 5_000 },
      fence: () => fence,
    });

  /** A scheduler on `on` that has found VM big (2 GiB) Pending behind VM other on node a's 2 GiB. */
  const pendingBehindOther = async (on: Store) => {
    scheduler.stop();
    scheduler = schedulerOn(on);
    await register("a", true);
    await seedVm(store, { ...vm("big"), spec: { ...vm("big").spec, memory: 2048 } });
    await seedVm(store, vm("other", "a"));
    scheduler.start();
    await settle();
    expect((await record("big")).unschedulable).toMatch(/not enough memory/);
  };

  /** The store with watches that drop the events `drop` picks, as a watch that lags behind would. */
  const withoutEvents = (drop: (event: WatchEvent) => boolean) =>
    new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "watch") return Reflect.get(target, prop, receiver);
        return (prefix: string, options: { fromRevision: number }): Watch => {
          const inner = target.watch(prefix, options);
          return {
            close: () => inner.close(),
            async *[Symbol.asyncIterator]() {
              for await (const batch of inner)
                yield { ...batch, events: batch.events.filter((e) => !drop(e)) };
            },
          };
        };
      },
    });

  /** VM web on node a (b also Ready), the scheduler started, then a's liveness key gone. */
  const webOnLostA = async () => {
    await register("a", true);
    await register("b", true);
    await seedVm(store, vm("web", "a"));
    scheduler.start();
    await settle();
    await register("a", false);
    await settle();
  };

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    // The leader key, as an elected leader would hold it; the fence compares its create revision.
    const revision = await store.put(keys.leader, "me");
    fence = { key: keys.leader, target: "createRevision", op: "=", value: revision };
    scheduler = schedulerOn(store);
  });
  afterEach(async () => {
    scheduler.stop();
    await store.close();
  });

  it("places a new VM as soon as it is written, bumping its epoch", async () => {
    await register("a", true);
    scheduler.start();
    await settle();
    await seedVm(store, vm("web"));
    await settle();
    expect(await record("web")).toMatchObject({ node: "a", epoch: 1 });
  });

  it("writes the placement and the node's assignment together, and copies each later change of the record to it", async () => {
    await register("a", true);
    await register("b", true);
    scheduler.start();
    await settle();
    await seedVm(store, {
      ...vm("web"),
      spec: { ...vm("web").spec, placement: { node: "b", constraints: [] } },
    });
    await settle();
    const assignment = async () => {
      const kv = await store.get(keys.assignment("b", "web"));
      return kv && (JSON.parse(kv.value) as { record: VmRecord; epoch: number });
    };
    expect(await assignment()).toMatchObject({ epoch: 1, record: { name: "web", desiredState: "running" } });
    expect(await store.range(keys.nodeAssignmentsPrefix("a"))).toMatchObject({ kvs: [] });
    // The user stops it (the API writes the record only): the leader copies the change to node b.
    const current = (await record("web"))!;
    await seedVm(store, recordOf({ ...current, desiredState: "stopped" }));
    await settle();
    expect(await assignment()).toMatchObject({ epoch: 1, record: { desiredState: "stopped" } });
    const placement = JSON.parse((await store.get(keys.placement("web")))!.value) as Placement;
    expect(placement.recordRevision).toBe((await store.get(keys.vm("web")))!.modRevision);
    // A copy is no move: no event says the VM was scheduled again.
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value).type);
    expect(events).toEqual(["scheduled"]);
  });

  it("places no VM record the API could not have written, and reports it once with a refused event", async () => {
    // The attack: whoever reached the store plants a record whose kernel climbs out of its dir.
    await register("a", true);
    scheduler.start();
    await settle();
    const hostile = { ...recordOf(vm("evil")), spec: { ...vm("evil").spec, kernel: "/boot/../etc/shadow" } };
    await store.put(keys.vm("evil"), JSON.stringify(hostile));
    await settle();
    clock.advance(3_000);
    await settle();
    expect(await store.get(keys.placement("evil"))).toBeUndefined();
    expect((await store.range(keys.assignmentsPrefix)).kvs).toEqual([]);
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value));
    expect(events).toEqual([
      expect.objectContaining({ type: "refused", vm: "evil", reason: expect.stringMatching(/spec\.kernel/) }),
    ]);
  });

  it("copies a grown record to the node only once the node has room for it; the rest of the change goes through", async () => {
    // The race it closes (found by the simulator): the API admitted a grow from a count made before
    // the leader placed another VM on the node, and the node would have run both.
    await register("a", true); // 2 vcpus, 2048 MiB
    scheduler.start();
    await settle();
    await seedVm(store, vm("web"));
    await seedVm(store, vm("other"));
    await settle();
    expect((await record("other")).node).toBe("a");
    const assigned = async () =>
      (JSON.parse((await store.get(keys.assignment("a", "web")))!.value) as { record: VmRecord }).record;
    // The user grows web to 1536 MiB and restarts it: no room next to other's 1024.
    const current = recordOf(await record("web"));
    await seedVm(store, { ...current, spec: { ...current.spec, memory: 1536 }, restartNonce: 1 });
    await settle();
    expect(await assigned()).toMatchObject({ restartNonce: 1, spec: { memory: 1024 } });
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value));
    expect(events.filter((e) => e.type === "unschedulable")).toEqual([
      expect.objectContaining({
        vm: "web",
        node: "a",
        reason: expect.stringMatching(/waits for room on node a/),
      }),
    ]);
    // Nothing else is placed on a: its count already holds the grow.
    await seedVm(store, { ...vm("small"), spec: { ...vm("small").spec, memory: 256 } });
    await settle();
    expect((await record("small")).node).toBe("");
    // other goes: the grow reaches the node.
    await store.txn({ compare: [], success: deleteVmOps(recordOf(await record("other")), "a", event()) });
    clock.advance(1_000);
    await settle();
    expect(await assigned()).toMatchObject({ spec: { memory: 1536 } });
    const placement = JSON.parse((await store.get(keys.placement("web")))!.value) as Placement;
    expect(placement.resources).toEqual({ vcpus: 1, memoryMiB: 1536 });
  });

  it("counts a shrunk VM at its old size until its node has restarted it at the new one", async () => {
    // Found by the simulator: the room a shrink frees was handed to a grow next to it while the node
    // still ran the VM at its old size.
    await register("a", true); // 2 vcpus, 2048 MiB
    scheduler.start();
    await settle();
    await seedVm(store, vm("web"));
    await settle();
    const resources = async () =>
      (JSON.parse((await store.get(keys.placement("web")))!.value) as Placement).resources;
    const running = (applied: number) =>
      JSON.stringify({ ...initialStatus("a", "t"), phase: "Running", pid: 7, appliedRestartNonce: applied });
    await store.put(keys.status("web"), running(0));
    const current = recordOf(await record("web"));
    await seedVm(store, { ...current, spec: { ...current.spec, memory: 512 }, restartNonce: 1 });
    await settle();
    clock.advance(1_000);
    await settle();
    // Copied to the node (it restarts the VM at 512 MiB), still counted at 1024 MiB meanwhile.
    expect(await resources()).toEqual({ vcpus: 1, memoryMiB: 1024 });
    await store.put(keys.status("web"), running(1));
    clock.advance(1_000);
    await settle();
    expect(await resources()).toEqual({ vcpus: 1, memoryMiB: 512 });
  });

  it("moves the assignment with the VM off a lost node: the old node's key is gone", async () => {
    await webOnLostA();
    clock.advance(6_000);
    await settle();
    expect(await record("web")).toMatchObject({ node: "b", epoch: 1 });
    expect(await store.get(keys.assignment("a", "web"))).toBeUndefined();
    expect(await store.get(keys.assignment("b", "web"))).toBeDefined();
  });

  it("ignores a node record no node could have written, whether loaded or watched, and places elsewhere", async () => {
    // The attack: whoever reached the store plants a Ready node whose capacity is a string, hoping
    // the scheduler reads it as room (or crashes on it) and sends every VM there.
    const planted = JSON.stringify({
      ...node("evil"),
      capacity: { vcpus: "999", memoryMiB: "1e9", drivers: ["qemu"] },
    });
    await store.put(keys.node("evil"), planted);
    await store.put(keys.alive("evil"), "x");
    await register("a", true);
    scheduler.start();
    await settle();
    await seedVm(store, vm("web"));
    await settle();
    expect(await record("web")).toMatchObject({ node: "a", epoch: 1 });
    // The same record arriving through the watch, after a valid one: the valid one is forgotten.
    await register("b", true);
    await store.put(keys.node("b"), planted.replace('"evil"', '"b"'));
    await seedVm(store, vm("api"));
    await settle();
    expect(await record("api")).toMatchObject({ node: "a" });
  });

  it("takes a draining node's VMs off it, fenced, and places them elsewhere once that node has stopped them", async () => {
    await register("a", true);
    await register("b", true);
    await seedVm(store, vm("web", "a"));
    await store.put(
      keys.status("web"),
      JSON.stringify({ ...initialStatus("a", "t"), phase: "Running", pid: 7 }),
    );
    scheduler.start();
    await settle();
    expect(await record("web")).toMatchObject({ node: "a" });
    // What the API's DrainNode writes: the cordon, nothing else.
    await store.put(keys.cordon("a"), JSON.stringify({ draining: true, at: "t" }));
    await settle();
    expect(await record("web")).toMatchObject({ node: "", handoffFrom: "a", epoch: 1 });
    // Not placed while a still runs it: two copies must never run.
    clock.advance(2_000);
    await settle();
    expect((await record("web")).node).toBe("");
    await store.put(keys.status("web"), JSON.stringify({ ...initialStatus("a", "t"), phase: "Stopped" }));
    // The leader does not watch statuses (most of the store's writes): it reads the few it waits on
    // at its next pass, within a second.
    await settle();
    clock.advance(1_000);
    await settle();
    expect(await record("web")).toMatchObject({ node: "b", epoch: 2 });
    expect((await record("web")).handoffFrom).toBeUndefined();
  });

  it("moves a lost node's VMs after the grace period, and only then", async () => {
    await webOnLostA();
    clock.advance(4_000);
    await settle();
    expect((await record("web")).node).toBe("a");
    clock.advance(2_000);
    await settle();
    expect(await record("web")).toMatchObject({ node: "b", epoch: 1 });
  });

  it("writes nothing once its term is over", async () => {
    await register("a", true);
    scheduler.start();
    await settle();
    // Another leader took over: the key was re-created, so the old term's fence no longer holds.
    await store.delete(keys.leader);
    await store.put(keys.leader, "other");
    await seedVm(store, vm("web"));
    await settle();
    expect((await record("web")).node).toBe("");
  });

  it("does nothing while it does not lead", async () => {
    fence = undefined;
    await register("a", true);
    await seedVm(store, vm("web"));
    scheduler.start();
    await settle();
    clock.advance(1_000);
    await settle();
    expect((await record("web")).node).toBe("");
  });

  it("watches the store only while it leads: loads when elected, drops its cache when deposed", async () => {
    let open = 0;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "watch") return Reflect.get(target, prop, receiver);
        return (prefix: string, options: { fromRevision: number }): Watch => {
          const inner = target.watch(prefix, options);
          open++;
          return {
            close: () => {
              open--;
              inner.close();
            },
            [Symbol.asyncIterator]: () => inner[Symbol.asyncIterator](),
          };
        };
      },
    });
    const term = fence;
    fence = undefined;
    scheduler.stop();
    scheduler = schedulerOn(counting);
    await register("a", true);
    await seedVm(store, vm("web"));
    scheduler.start();
    clock.advance(1_000);
    await settle();
    expect(open).toBe(0);
    fence = term;
    scheduler.poke(); // as the election's onElected does
    await settle();
    expect(open).toBeGreaterThan(0);
    expect((await record("web")).node).toBe("a");
    fence = undefined;
    clock.advance(1_000);
    await settle();
    expect(open).toBe(0);
  });

  it("prunes the event log to its limit, oldest first", async () => {
    const small = new Scheduler({
      store,
      clock,
      logger: silentLogger,
      random: { next: () => 0, hex: () => "00" },
      config: { defaultStrategy: "spread", graceMs: 5_000 },
      fence: () => fence,
      maxEvents: 3,
    });
    for (let i = 0; i < 5; i++)
      await store.put(`${keys.eventsPrefix}${String(i).padStart(15, "0")}-x-0000`, "{}");
    await small.pruneEvents();
    const left = (await store.range(keys.eventsPrefix)).kvs.map((kv) =>
      kv.key.slice(keys.eventsPrefix.length, -7),
    );
    expect(left).toEqual(["000000000000002", "000000000000003", "000000000000004"]);
  });

  it("places a Pending VM once room appears: a node joins or another VM leaves", async () => {
    await pendingBehindOther(store);
    clock.advance(3_000);
    await settle();
    expect((await record("big")).node).toBe("");
    await store.delete(keys.vm("other"));
    await settle();
    expect(await record("big")).toMatchObject({ node: "a" });
    expect((await record("big")).unschedulable).toBeUndefined();
  });
  it("retries a Pending VM after reloading a broken watch, whose missed events may have made room", async () => {
    const watches = breakableWatches(store);
    await pendingBehindOther(watches.store);
    watches.breakAll();
    await settle();
    // The room appears while the scheduler is not watching; it reloads a second later.
    await store.delete(keys.vm("other"));
    clock.advance(1_000);
    await settle();
    clock.advance(1_000);
    await settle();
    expect(await record("big")).toMatchObject({ node: "a" });
  });

  it("reloads and retries a Pending VM whose placement failed to write", async () => {
    let failNextTxn = false;
    const flaky = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "txn") return Reflect.get(target, prop, receiver);
        return async (request: TxnRequest) => {
          if (failNextTxn) {
            failNextTxn = false;
            throw new Error("store unreachable");
          }
          return target.txn(request);
        };
      },
    });
    await pendingBehindOther(flaky);
    failNextTxn = true;
    await store.delete(keys.vm("other"));
    await settle();
    // The failed write may have landed for all the scheduler knows: it reads everything again and
    // tries again at once.
    expect(failNextTxn).toBe(false);
    expect(await record("big")).toMatchObject({ node: "a" });
  });
  it("counts its own placements at once, before the watch delivers them, so a node is not filled twice", async () => {
    // A store whose watches lag behind the scheduler's own placements: they never deliver them.
    const lagging = withoutEvents((e) => e.kv.key.startsWith(keys.placementsPrefix));
    scheduler.stop();
    scheduler = schedulerOn(lagging);
    await register("a", true);
    scheduler.start();
    await settle();
    // Each asks for 1 GiB of node a's 2 GiB: two fit, the third must stay Pending.
    // One at a time, each placed by a pass of its own.
    for (const name of ["one", "two", "three"]) {
      await seedVm(store, vm(name));
      await settle();
    }
    const nodes = await Promise.all(["one", "two", "three"].map(async (n) => (await record(n)).node));
    expect(nodes.filter((n) => n === "a")).toHaveLength(2);
  });
  it("decides again on a Pending VM whose placement lost a race with another change to its record", async () => {
    let raced = false;
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "txn") return Reflect.get(target, prop, receiver);
        return async (request: TxnRequest) => {
          const placesBig = request.success.some(
            (op) => op.type === "put" && op.key === keys.placement("big") && placedOn(op.value) === "a",
          );
          if (placesBig && !raced) {
            // A user restarts big just before the placement lands: its compare fails.
            raced = true;
            const current = await record("big");
            await seedVm(target, recordOf({ ...current, restartNonce: 1 }));
          }
          return target.txn(request);
        };
      },
    });
    const placedOn = (value: string) => (JSON.parse(value) as Placement).node;
    await pendingBehindOther(racing);
    await store.delete(keys.vm("other"));
    await settle();
    expect(raced).toBe(true);
    expect(await record("big")).toMatchObject({ node: "a", restartNonce: 1 });
  });
  it("does not move a node's VMs once the node is back, though its cache has not seen it yet", async () => {
    // Watches that never deliver the node's return (its liveness key being put again).
    const lagging = withoutEvents((e) => e.kv.key === keys.alive("a") && e.type === "put");
    scheduler.stop();
    scheduler = schedulerOn(lagging);
    await webOnLostA();
    clock.advance(2_000);
    await settle();
    await register("a", true);
    await settle();
    clock.advance(5_000);
    await settle();
    expect((await record("web")).node).toBe("a");
    // Gone again for good: now it moves.
    await register("a", false);
    await settle();
    clock.advance(1_000);
    await settle();
    expect(await record("web")).toMatchObject({ node: "b", epoch: 1 });
  });
  it("reloads when a finish-delete's transaction fails, so the VM does not stay deleting without an event", async () => {
    // The record of VM doomed (deleting, on no node) changes just before the delete lands, and the
    // watch never delivers that change: the delete's compare fails. The scheduler used to drop the VM
    // from its cache anyway, so it stayed `deleting` in the store for good, with no event.
    const lagging = withoutEvents((e) => e.kv.key === keys.vm("doomed"));
    let raced = false;
    const racing = new Proxy(lagging, {
      get(target, prop, receiver) {
        if (prop !== "txn") return Reflect.get(target, prop, receiver);
        return async (request: TxnRequest) => {
          const deletes = request.success.some((op) => op.type === "delete" && op.key === keys.vm("doomed"));
          if (deletes && !raced) {
            raced = true;
            await seedVm(store, { ...vm("doomed"), deleting: true, restartNonce: 1 });
          }
          return target.txn(request);
        };
      },
    });
    scheduler.stop();
    scheduler = schedulerOn(racing);
    await register("a", true);
    await seedVm(store, { ...vm("doomed"), deleting: true });
    scheduler.start();
    await settle();
    expect(raced).toBe(true);
    expect(await store.get(keys.vm("doomed"))).toBeUndefined();
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value));
    expect(events).toContainEqual(expect.objectContaining({ type: "deleted", vm: "doomed" }));
  });

  it("backs off exponentially while every write fails (a full disk), and starts over after a success", async () => {
    let failing = true;
    let attempts = 0;
    const full = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "txn") return Reflect.get(target, prop, receiver);
        return async (request: TxnRequest) => {
          const places = request.success.some(
            (op) => op.type === "put" && op.key.startsWith(keys.placementsPrefix),
          );
          if (places) attempts++;
          if (places && failing) throw new Error("SQLITE_FULL: database or disk is full");
          return target.txn(request);
        };
      },
    });
    scheduler.stop();
    scheduler = schedulerOn(full);
    await register("a", true);
    await seedVm(store, vm("web"));
    scheduler.start();
    await settle();
    // The attack on the old loop: with no time passing, it retried as fast as the store failed.
    expect(attempts).toBe(2);
    // A minute of failures: retries 0.5, 1, 2, 4, 8 and 16 s apart (the next 30 s later), not one per tick.
    for (let t = 0; t < 60_000; t += 100) {
      clock.advance(100);
      await settle();
    }
    expect(attempts).toBe(8);
    // The disk is freed: the next retry (30 s later at most) lands, and the series starts over.
    failing = false;
    clock.advance(30_000);
    await settle();
    expect(await record("web")).toMatchObject({ node: "a" });
    failing = true;
    attempts = 0;
    await seedVm(store, vm("db"));
    await settle();
    clock.advance(500);
    await settle();
    expect(attempts).toBe(3);
  });
});
