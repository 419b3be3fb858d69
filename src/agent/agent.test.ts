import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { VmRepository } from "../api/vm-repository.js";
import { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { MemoryDriver } from "../drivers/memory/memory-driver.js";
import { MemoryHost } from "../drivers/memory/memory-host.js";
import type { HealthProber } from "../ports/health-prober.js";
import { silentLogger } from "../ports/logger.js";
import type { Store, TxnRequest } from "../ports/store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { breakableWatches } from "../testing/breakable-watches.js";
import { countedWatches } from "../testing/counted-watches.js";
import { ManualClock } from "../testing/manual-clock.js";
import { placeOn } from "../testing/seed-vms.js";
import { Agent } from "./agent.js";

const NODE = "node-a";
const stopOptions = { gracefulTimeoutMs: 1000, quitTimeoutMs: 1000, killTimeoutMs: 1000 };

describe("Agent", () => {
  let clock: ManualClock;
  let store: SqliteStore;
  let driver: MemoryDriver;
  let repo: VmRepository;
  let agent: Agent;
  let probeOk: boolean;
  const prober: HealthProber = { tcp: async () => probeOk, http: async () => probeOk };

  const newAgent = () =>
    new Agent({
      nodeId: NODE,
      store,
      driver,
      clock,
      logger: silentLogger,
      prober,
      stopOptions,
      resyncIntervalMs: 1000,
    });

  function record(
    name: string,
    overrides: Partial<VmRecord> = {},
    spec: Record<string, unknown> = {},
  ): VmRecord {
    return {
      name,
      spec: parseVmSpec({ name, kernel: "/k", ...spec }),
      desiredState: "running",
      restartNonce: 0,
      deleting: false,
      createdAt: new Date(clock.now()).toISOString(),
      ...overrides,
    };
  }

  /** Replaces the agent with one on `on` (a store that misbehaves on purpose). */
  async function restartOn(on: Store): Promise<void> {
    await agent.shutdown({ stopVms: false });
    agent = new Agent({ nodeId: NODE, store: on, driver, clock, logger: silentLogger, prober, stopOptions });
    await agent.start();
  }

  /** The API's create, and the leader's placement on `node` (this node by default). */
  async function create(vm: VmRecord, node = NODE): Promise<void> {
    await repo.create(vm);
    await placeOn(store, vm.name, node);
  }

  /** The API's change of a record, and the leader's copy of it to the VM's node. */
  async function update(name: string, change: (record: VmRecord) => VmRecord): Promise<void> {
    await repo.update(name, change);
    await placeOn(store, name);
  }

  /**
   * Restarts the agent on a store that applies the first transaction matching `matches` and then
   * loses its reply; the returned function tells whether that has happened.
   */
  async function restartOnLossyStore(matches: (request: TxnRequest) => boolean): Promise<() => boolean> {
    let lost = false;
    const lossy = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "txn") return Reflect.get(target, prop, receiver);
        return async (request: TxnRequest) => {
          const result = await target.txn(request);
          if (!lost && result.succeeded && matches(request)) {
            lost = true;
            throw new Error("reply lost");
          }
          return result;
        };
      },
    });
    await restartOn(lossy);
    return () => lost;
  }

  async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      await agent.idle();
    }
  }

  async function advance(ms: number): Promise<void> {
    clock.advance(ms);
    await settle();
  }

  beforeEach(async () => {
    clock = new ManualClock();
    store = await SqliteStore.open({ path: ":memory:", clock });
    driver = new MemoryDriver(new MemoryHost({ clock }));
    repo = new VmRepository(store, clock);
    probeOk = true;
    agent = newAgent();
    await agent.start();
  });

  afterEach(async () => {
    await agent.shutdown({ stopVms: false });
    await store.close();
  });

  it("starts a VM created to run and reports it Running with its pid", async () => {
    await create(record("web"));
    await settle();
    const vm = await repo.get("web");
    expect(vm.status).toMatchObject({ phase: "Running", restarts: 0, health: "none", pid: 1000 });
    expect(await driver.inspect("web")).toMatchObject({ state: "running", pid: 1000 });
  });

  it("plugs a bridge-mode VM into the bridge by its address, and probes its health check there", async () => {
    const targets: unknown[] = [];
    const tcp = prober.tcp;
    prober.tcp = async (target) => {
      targets.push(target);
      return true;
    };
    onTestFinished(() => {
      prober.tcp = tcp;
    });
    await create(
      record("db", { address: "10.88.3.4" }, { network: "bridge", healthCheck: { type: "tcp", port: 5432 } }),
    );
    await settle();
    expect(driver.host.vm("db")?.bridge).toEqual({
      bridge: "blxbr0",
      tap: "blxt0a580304",
      mac: "02:b1:0a:58:03:04",
      mtu: 1450,
      address: "10.88.3.4",
    });
    await advance(100);
    expect(targets).toContainEqual({ host: "10.88.3.4", port: 5432 });
    expect((await repo.get("db")).status.health).toBe("healthy");
  });

  it("leaves a VM created without --start stopped", async () => {
    await create(record("web", { desiredState: "stopped" }));
    await settle();
    expect((await repo.get("web")).status.phase).toBe("Stopped");
    expect(driver.starts("web")).toBe(0);
  });

  it("restarts a crashed VM after the backoff and counts one restart", async () => {
    await create(record("web"));
    await settle();
    driver.host.crash("web");
    await advance(1000);
    const failed = await repo.get("web");
    expect(failed.status).toMatchObject({ phase: "Failed", restarts: 0 });
    expect(failed.status.lastExit).toMatchObject({ signal: "SIGKILL" });
    await advance(1000);
    const back = await repo.get("web");
    expect(back.status).toMatchObject({ phase: "Running", restarts: 1 });
    expect(driver.starts("web")).toBe(2);
  });

  it("re-adopts a running VM after an agent restart without starting it again", async () => {
    await create(record("web"));
    await settle();
    const pid = (await repo.get("web")).status.pid;
    await agent.shutdown({ stopVms: false });
    agent = newAgent();
    await agent.start();
    await settle();
    expect(driver.calls.filter((c) => c.op === "adopt" && c.name === "web")).toHaveLength(1);
    expect(driver.starts("web")).toBe(1);
    expect((await repo.get("web")).status).toMatchObject({ phase: "Running", pid });
  });

  it("stops the VMs assigned here on shutdown when asked to (--stop-vms-on-exit), and only those", async () => {
    await create(record("web"));
    await create(record("other"), "node-b");
    await settle();
    expect((await driver.inspect("web")).state).toBe("running");
    await agent.shutdown({ stopVms: true });
    expect((await driver.inspect("web")).state).not.toBe("running");
    expect(driver.calls.filter((c) => c.op === "stop").map((c) => c.name)).toEqual(["web"]);
  });

  it("stops a VM whose desired state becomes stopped", async () => {
    await create(record("web"));
    await settle();
    await update("web", (r) => ({ ...r, desiredState: "stopped" }));
    await settle();
    expect((await repo.get("web")).status).toMatchObject({ phase: "Stopped", pid: null });
    expect(driver.calls.find((c) => c.op === "stop")?.detail).toBe("graceful");
  });

  it("restarts on request without counting it as a failure", async () => {
    await create(record("web"));
    await settle();
    await update("web", (r) => ({ ...r, restartNonce: r.restartNonce + 1 }));
    await settle();
    expect(driver.starts("web")).toBe(2);
    expect((await repo.get("web")).status).toMatchObject({ phase: "Running", restarts: 0, pid: 1001 });
  });

  it("deletes a VM: stops it, removes its state, then its keys and port claims", async () => {
    await create(record("web", {}, { forwards: [{ host: 8080, guest: 80 }] }));
    await settle();
    await update("web", (r) => ({ ...r, deleting: true }));
    await settle();
    await expect(repo.get("web")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(driver.host.has("web")).toBe(false);
    expect(driver.calls.map((c) => c.op)).toEqual(["prepare", "start", "stop", "remove"]);
    // The port is free again: a new VM may forward it.
    await create(record("api", {}, { forwards: [{ host: 8080, guest: 80 }] }));
  });

  it("retries a failed start with backoff", async () => {
    driver.host.failStarts = 1;
    await create(record("web"));
    await settle();
    expect((await repo.get("web")).status).toMatchObject({ phase: "Failed", consecutiveFailures: 1 });
    expect((await repo.get("web")).status.message).toContain("injected start failure");
    await advance(1000);
    expect((await repo.get("web")).status).toMatchObject({ phase: "Running", restarts: 1 });
  });

  it("fences off a local VM that has no desired state", async () => {
    await driver.prepare("stray", parseVmSpec({ name: "stray", kernel: "/k" }));
    await driver.start("stray", parseVmSpec({ name: "stray", kernel: "/k" }));
    await advance(1000);
    expect(driver.host.has("stray")).toBe(false);
    expect(driver.calls.filter((c) => c.op === "stop").map((c) => c.name)).toEqual(["stray"]);
    // Its state is quarantined, never deleted: nobody asked for that, and it may be the only copy of
    // the guest's writes (after a failover, or when the store was lost). The event says so.
    expect(driver.calls.filter((c) => c.op === "quarantine" || c.op === "remove")).toEqual([
      { op: "quarantine", name: "stray" },
    ]);
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => JSON.parse(kv.value));
    expect(events).toContainEqual(expect.objectContaining({ type: "quarantined", vm: "stray", node: NODE }));
  });

  it("reports health from its check and restarts a VM that turns unhealthy", async () => {
    const spec = {
      forwards: [{ host: 18080, guest: 80 }],
      healthCheck: { type: "tcp", port: 80, intervalSeconds: 1, failureThreshold: 2, startPeriodSeconds: 0 },
    };
    await create(record("web", {}, spec));
    await settle();
    expect((await repo.get("web")).status.health).toBe("starting");
    await advance(0);
    const healthy = await repo.get("web");
    expect(healthy.status).toMatchObject({ health: "healthy" });
    expect(healthy.status.readyAt).not.toBeNull();
    probeOk = false;
    await advance(1000);
    await advance(1000);
    const restarting = await repo.get("web");
    expect(restarting.status).toMatchObject({ phase: "Failed", consecutiveFailures: 1 });
    expect(restarting.status.message).toContain("health check failed");
    probeOk = true;
    await advance(1000);
    expect((await repo.get("web")).status).toMatchObject({ phase: "Running", restarts: 1 });
  });

  it("leaves other nodes' VMs and their statuses alone", async () => {
    await create(record("web"));
    await settle();
    // A second node's agent starts after web is running, so it reads web's status at start-up.
    const other = new Agent({
      nodeId: "node-b",
      store,
      driver: new MemoryDriver(new MemoryHost({ clock })),
      clock,
      logger: silentLogger,
      prober,
      stopOptions,
    });
    await other.start();
    // A change to web that needs no action from its own node, but reaches every node's watch.
    await update("web", (r) => ({ ...r, createdAt: new Date(0).toISOString() }));
    await settle();
    await other.idle();
    await advance(3000);
    await other.idle();
    expect((await repo.get("web")).status).toMatchObject({ phase: "Running", node: NODE, pid: 1000 });
    await other.shutdown({ stopVms: false });
  });

  it("rewrites a status whose write failed after it applied, once the VM changes back", async () => {
    // A store that applies one write of a Stopping status and then loses the reply.
    const lost = await restartOnLossyStore((request) =>
      request.success.some((op) => op.type === "put" && op.value.includes('"phase":"Stopping"')),
    );
    await create(record("web"));
    await settle();
    await update("web", (r) => ({ ...r, desiredState: "stopped" }));
    await settle();
    expect(lost()).toBe(true);
    // The stop never ran (the reconcile failed on the lost reply); the user changes their mind.
    await update("web", (r) => ({ ...r, desiredState: "running" }));
    await advance(2000);
    expect((await repo.get("web")).status).toMatchObject({ phase: "Running", pid: 1000 });
  });

  it("does not rewrite an unchanged status on every resync", async () => {
    await create(record("web"));
    await settle();
    const before = await store.revision();
    await advance(5000);
    expect(await store.revision()).toBe(before);
  });

  it("re-checks running VMs every resync but settled stopped ones only on the full resync", async () => {
    const inspected: string[] = [];
    const inspect = driver.inspect.bind(driver);
    driver.inspect = async (name) => {
      inspected.push(name);
      return inspect(name);
    };
    await create(record("up"));
    for (const name of ["idle-1", "idle-2"]) await create(record(name, { desiredState: "stopped" }));
    await settle();
    expect((await repo.get("up")).status.phase).toBe("Running");
    expect((await repo.get("idle-1")).status.phase).toBe("Stopped");

    inspected.length = 0;
    await advance(1000);
    expect(inspected).toEqual(["up"]);

    // The 30th resync re-checks everything, in case something changed that no event reported.
    inspected.length = 0;
    for (let i = 0; i < 29; i++) await advance(1000);
    expect(inspected.filter((n) => n === "up")).toHaveLength(29);
    expect(inspected.filter((n) => n.startsWith("idle-")).sort()).toEqual(["idle-1", "idle-2"]);
  });

  it("fences: stops every running VM and starts none until unfenced", async () => {
    const running = () => driver.host.running();
    await create(record("web"));
    await settle();
    expect(running()).toEqual(["web"]);

    await agent.fence();
    expect(running()).toEqual([]);
    // Desired running, but fenced: resyncs and changes start nothing.
    await update("web", (r) => ({ ...r, restartNonce: r.restartNonce + 1 }));
    await advance(5000);
    expect(running()).toEqual([]);

    agent.unfence();
    await advance(3000);
    expect(running()).toEqual(["web"]);
  });

  it("writes a status again for a VM moved away and back, when withdrawing its status lost its reply", async () => {
    const lost = await restartOnLossyStore(
      (request) =>
        request.success.length === 1 &&
        request.success[0]!.type === "delete" &&
        request.success[0]!.key === keys.status("web"),
    );
    await create({ ...record("web"), desiredState: "stopped" });
    await settle();
    expect((await repo.get("web")).status.phase).toBe("Stopped");
    // Moved away (the status withdrawal applies, its reply is lost), then back.
    await placeOn(store, "web", "node-b");
    await settle();
    expect(lost()).toBe(true);
    expect(await store.get(keys.status("web"))).toBeUndefined();
    await placeOn(store, "web", NODE);
    await advance(2000);
    expect((await repo.get("web")).status).toMatchObject({ phase: "Stopped", node: NODE });
  });

  it("fences the VMs it can when the driver fails on one, and does not reject", async () => {
    const running = () => driver.host.running();
    await create(record("a"));
    await create(record("b"));
    await settle();
    expect(running().sort()).toEqual(["a", "b"]);
    const inspect = driver.inspect.bind(driver);
    driver.inspect = async (name) => {
      if (name === "a") throw new Error("qmp socket gone");
      return inspect(name);
    };
    await expect(agent.fence()).resolves.toBeUndefined();
    expect(running()).toEqual(["a"]);
  });

  it("stops a VM moved to another node without deleting the new owner's status", async () => {
    await create(record("web"));
    await settle();
    expect((await repo.get("web")).status.phase).toBe("Running");
    // The leader moved it while this node was away, and node-b already reports it.
    const theirs = { ...(await repo.get("web")).status, node: "node-b", pid: 4242 };
    await store.put(keys.status("web"), JSON.stringify(theirs));
    await placeOn(store, "web", "node-b");
    await settle();
    expect(driver.host.running().length > 0).toBe(false);
    const kv = await store.get(keys.status("web"));
    expect(JSON.parse(kv!.value)).toMatchObject({ node: "node-b", pid: 4242 });
    // The accident it stops: after a failover this node's overlay may hold the only copy of the guest's
    // writes since the new owner started from the base image. It is quarantined, never deleted.
    expect(
      driver.calls.filter((c) => c.name === "web" && (c.op === "remove" || c.op === "quarantine")),
    ).toEqual([{ op: "quarantine", name: "web" }]);
  });
  it("backs off exponentially while the store fails its watch and reads, and starts over once it delivers", async () => {
    // A store that breaks every watch at once and fails every read, as a full or lost disk does.
    let broken = false;
    let reads = 0;
    const watches = breakableWatches(store, () => new BlixardError("COMPACTED", "revision compacted"));
    const failing = new Proxy(watches.store, {
      get(target, prop, receiver) {
        if (prop === "range")
          return async (...args: Parameters<SqliteStore["range"]>) => {
            if (broken) {
              if (args[0] === keys.nodeAssignmentsPrefix(NODE)) reads++;
              throw new Error("SQLITE_IOERR: disk I/O error");
            }
            return target.range(...args);
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    await restartOn(failing);
    broken = true;
    watches.breakNew(true);
    watches.breakAll();
    // Two minutes of a broken store: the broken watch (behind compaction, as the store says) lists at
    // once, then reloads 1, 2, 4, 8, 16, 30 and 30 s after the failures before them (the next at
    // 121 s), where it used to reload every second: 120 times.
    for (let t = 0; t < 120_000; t += 500) {
      clock.advance(500);
      await settle();
    }
    expect(reads).toBe(8);
    // The store recovers: the agent follows it again and acts on a new VM.
    broken = false;
    watches.breakNew(false);
    clock.advance(30_000);
    await settle();
    await create(record("late"));
    await settle();
    await agent.idle();
    expect((await driver.inspect("late")).state).toBe("running");
  });

  it("is delivered only its own node's assignments: creates and changes on other nodes cost it nothing", async () => {
    // Kubernetes' kubelets watch only their own pods: here each agent watches its node's prefix.
    const counting = countedWatches(store);
    await restartOn(counting.store);
    for (const name of ["b1", "b2", "b3"]) await create(record(name), "node-b");
    await update("b1", (r) => ({ ...r, desiredState: "stopped" }));
    await settle();
    expect(counting.delivered()).toBe(0);
    expect(driver.calls.filter((c) => c.op !== "adopt")).toEqual([]);
    await create(record("mine"));
    await settle();
    // Its own assignment, one event; the status writes it makes are not watched either.
    expect(counting.delivered()).toBe(1);
    expect(driver.starts("mine")).toBe(1);
  });
});
