import { beforeEach, describe, expect, it } from "vitest";
import { encodeFunctionLoad, encodeFunctionRecord, type FunctionRecord } from "../core/function-record.js";
import { parseFunctionSpec } from "../core/function-spec.js";
import { keys } from "../core/keys.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import { silentLogger } from "../ports/logger.js";
import type { Compare } from "../ports/store.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { placeOn, reportStatus } from "../testing/seed-vms.js";
import { FunctionPool } from "./function-pool.js";

const FENCE: Compare = { key: keys.leader, target: "createRevision", op: "=", value: 0 };

describe("FunctionPool", () => {
  let clock: ManualClock;
  let store: MemoryStore;
  let leading: boolean;
  let pool: FunctionPool;

  beforeEach(() => {
    clock = new ManualClock();
    store = new MemoryStore({ clock });
    leading = true;
    pool = new FunctionPool({
      store,
      clock,
      logger: silentLogger,
      fence: () => (leading ? FENCE : undefined),
      writer: "n1",
    });
  });

  async function deploy(version: number, over: Record<string, unknown> = {}): Promise<void> {
    const spec = parseFunctionSpec({
      name: "hello",
      kernel: "/images/vmlinux",
      concurrency: 2,
      maxInstances: 3,
      idleTimeout: 10,
      ...over,
    });
    const record: FunctionRecord = {
      name: "hello",
      version,
      spec,
      createdAt: new Date(clock.now()).toISOString(),
      history: [],
    };
    await store.put(keys.function("hello"), encodeFunctionRecord(record));
  }
  async function vms(): Promise<
    { name: string; deleting: boolean; port: number | undefined; cmdline: string }[]
  > {
    const { kvs } = await store.range(keys.vmsPrefix);
    return kvs.flatMap((kv) => {
      const d = decodeVmRecord(kv.key.slice(keys.vmsPrefix.length), kv.value);
      return d.ok
        ? [
            {
              name: d.record.name,
              deleting: d.record.deleting,
              port: d.record.spec.forwards[0]?.host,
              cmdline: d.record.spec.cmdline,
            },
          ]
        : [];
    });
  }
  async function ready(name: string, node = "n1"): Promise<void> {
    await placeOn(store, name, node);
    await reportStatus(store, name, node, { phase: "Running", health: "healthy" });
  }
  async function report(node: string, instances: Record<string, number>, waiting = 0): Promise<void> {
    const load = Object.fromEntries(
      Object.entries(instances).map(([k, n]) => [k, { inFlight: n, lastActiveAt: clock.now() }]),
    );
    await store.put(keys.functionLoad(node, "hello"), encodeFunctionLoad({ instances: load, waiting }));
  }
  async function events(): Promise<string[]> {
    const { kvs } = await store.range(keys.eventsPrefix);
    return kvs
      .map((kv) => JSON.parse(kv.value) as { type: string; reason: string })
      .filter((e) => e.type === "function-scaled")
      .map((e) => e.reason);
  }

  it("keeps minInstances as VMs named for the function, each forwarding its own host port", async () => {
    await deploy(1, { minInstances: 2, env: { GREETING: "hi" } });
    await pool.pass();
    expect(await vms()).toEqual([
      { name: "fn-hello-1-0", deleting: false, port: 41000, cmdline: "fn.env.GREETING=hi" },
      { name: "fn-hello-1-1", deleting: false, port: 41001, cmdline: "fn.env.GREETING=hi" },
    ]);
    expect(await events()).toEqual([expect.stringContaining("pool 0 -> 2: no requests (min 2)")]);
    await pool.pass();
    expect(await vms()).toHaveLength(2);
  });

  it("does nothing while this node does not lead", async () => {
    await deploy(1, { minInstances: 1 });
    leading = false;
    await pool.pass();
    expect(await vms()).toEqual([]);
  });

  it("cold-starts on a held request, grows with in-flight load summed across gateways, and scales to zero when idle", async () => {
    await deploy(1);
    await report("n1", {}, 1);
    await pool.pass();
    expect((await vms()).map((v) => v.name)).toEqual(["fn-hello-1-0"]);
    await ready("fn-hello-1-0");
    await report("n1", { "fn-hello-1-0": 2 }, 0);
    await report("n2", { "fn-hello-1-0": 2 }, 1);
    await pool.pass();
    expect((await vms()).map((v) => v.name)).toEqual(["fn-hello-1-0", "fn-hello-1-1", "fn-hello-1-2"]);
    expect((await events()).at(-1)).toContain("pool 1 -> 3: 5 request(s)");
    await report("n1", { "fn-hello-1-0": 0 });
    await store.delete(keys.functionLoad("n2", "hello"));
    clock.advance(9_000);
    await pool.pass();
    expect((await vms()).filter((v) => v.deleting)).toEqual([]);
    clock.advance(1_000);
    await pool.pass();
    expect((await vms()).filter((v) => !v.deleting)).toEqual([]);
  });

  it("replaces a crashed instance", async () => {
    await deploy(1, { minInstances: 1 });
    await pool.pass();
    await placeOn(store, "fn-hello-1-0", "n1");
    await reportStatus(store, "fn-hello-1-0", "n1", { phase: "Failed" });
    await pool.pass();
    expect((await vms()).map((v) => [v.name, v.deleting])).toEqual([
      ["fn-hello-1-0", true],
      ["fn-hello-1-1", false],
    ]);
    expect((await events()).at(-1)).toContain("stopping fn-hello-1-0 (failed; a new instance replaces it)");
  });

  it("drains the old version after a deploy: new instances start, old ones stop once idle of requests", async () => {
    await deploy(1, { minInstances: 1 });
    await pool.pass();
    await ready("fn-hello-1-0");
    await deploy(2, { minInstances: 1 });
    await report("n1", { "fn-hello-1-0": 1 });
    await pool.pass();
    expect((await vms()).map((v) => [v.name, v.deleting])).toEqual([
      ["fn-hello-1-0", false],
      ["fn-hello-2-0", false],
    ]);
    await report("n1", { "fn-hello-1-0": 0 });
    await pool.pass();
    expect((await vms()).map((v) => [v.name, v.deleting])).toEqual([
      ["fn-hello-1-0", true],
      ["fn-hello-2-0", false],
    ]);
  });

  it("stops every instance of a deleted function", async () => {
    await deploy(1, { minInstances: 2 });
    await pool.pass();
    await store.delete(keys.function("hello"));
    await pool.pass();
    expect((await vms()).every((v) => v.deleting)).toBe(true);
  });

  it("never takes a host port another VM forwards", async () => {
    await store.put(keys.portClaim("tcp", 41000), "web");
    await deploy(1, { minInstances: 1 });
    await pool.pass();
    expect((await vms()).map((v) => v.port)).toEqual([41001]);
  });
});
