import { describe, expect, it } from "vitest";
import type { FunctionLoad } from "./function-record.js";
import { type InstanceView, planPool, sumLoads } from "./function-scaling.js";
import { parseFunctionSpec } from "./function-spec.js";

const spec = (over: Record<string, unknown> = {}) =>
  parseFunctionSpec({ name: "hello", concurrency: 4, maxInstances: 5, idleTimeout: 60, ...over });
const inst = (index: number, over: Partial<InstanceView> = {}): InstanceView => ({
  name: `fn-hello-1-${index}`,
  version: 1,
  index,
  state: "ready",
  createdAt: 0,
  ...over,
});
const load = (inFlight: Record<string, number>, waiting = 0, lastActiveAt = 0): FunctionLoad => ({
  instances: Object.fromEntries(Object.entries(inFlight).map(([k, n]) => [k, { inFlight: n, lastActiveAt }])),
  waiting,
});
const NOW = 1_000_000;

describe("planPool", () => {
  it("keeps nothing running for minInstances 0 and no requests", () => {
    const plan = planPool({ fn: { version: 1, spec: spec() }, instances: [], load: load({}), now: NOW });
    expect(plan.create).toEqual([]);
    expect(plan.remove).toEqual([]);
  });

  it("starts minInstances without any request", () => {
    const plan = planPool({
      fn: { version: 1, spec: spec({ minInstances: 2 }) },
      instances: [],
      load: load({}),
      now: NOW,
    });
    expect(plan.create).toEqual([0, 1]);
  });

  it("cold-starts one instance for a request held while the pool is empty", () => {
    const plan = planPool({ fn: { version: 1, spec: spec() }, instances: [], load: load({}, 1), now: NOW });
    expect(plan.create).toEqual([0]);
    expect(plan.why).toContain("1 request(s)");
  });

  it("scales up when in flight per instance exceeds concurrency, up to maxInstances", () => {
    const nine = planPool({
      fn: { version: 1, spec: spec() },
      instances: [inst(0)],
      load: load({ "fn-hello-1-0": 4 }, 5, NOW),
      now: NOW,
    });
    expect(nine.create).toEqual([1, 2]);
    const many = planPool({
      fn: { version: 1, spec: spec() },
      instances: [inst(0)],
      load: load({}, 100),
      now: NOW,
    });
    expect(many.create).toEqual([1, 2, 3, 4]);
    expect(many.to).toBe(5);
  });

  it("does not scale up at exactly concurrency requests per instance", () => {
    const plan = planPool({
      fn: { version: 1, spec: spec() },
      instances: [inst(0)],
      load: load({ "fn-hello-1-0": 4 }),
      now: NOW,
    });
    expect(plan.create).toEqual([]);
  });

  it("stops surplus instances only after idleTimeout, highest index first, never below minInstances", () => {
    const instances = [inst(0), inst(1), inst(2)];
    const fn = { version: 1, spec: spec({ minInstances: 1 }) };
    const seen = { "fn-hello-1-0": 0, "fn-hello-1-1": 0, "fn-hello-1-2": 0 };
    const recent = planPool({ fn, instances, load: load(seen, 0, NOW - 59_000), now: NOW });
    expect(recent.remove).toEqual([]);
    const idle = planPool({ fn, instances, load: load(seen, 0, NOW - 60_000), now: NOW });
    expect(idle.remove.map((r) => r.name)).toEqual(["fn-hello-1-2", "fn-hello-1-1"]);
    expect(idle.to).toBe(1);
  });

  it("scales to zero once idle, but never stops an instance with a request in flight", () => {
    const fn = { version: 1, spec: spec() };
    const zero = planPool({ fn, instances: [inst(0)], load: load({}, 0, NOW - 61_000), now: NOW });
    expect(zero.remove.map((r) => r.name)).toEqual(["fn-hello-1-0"]);
    const busy = planPool({
      fn,
      instances: [inst(0), inst(1)],
      load: load({ "fn-hello-1-1": 1 }, 0, 0),
      now: NOW,
    });
    expect(busy.remove.map((r) => r.name)).toEqual(["fn-hello-1-0"]);
  });

  it("does not stop a new instance that has not had idleTimeout to serve", () => {
    const plan = planPool({
      fn: { version: 1, spec: spec() },
      instances: [inst(0, { createdAt: NOW - 10_000 })],
      load: load({}),
      now: NOW,
    });
    expect(plan.remove).toEqual([]);
  });

  it("replaces a failed instance at a free index", () => {
    const plan = planPool({
      fn: { version: 1, spec: spec({ minInstances: 1 }) },
      instances: [inst(0, { state: "failed" })],
      load: load({}),
      now: NOW,
    });
    expect(plan.remove).toEqual([{ name: "fn-hello-1-0", reason: "failed; a new instance replaces it" }]);
    expect(plan.create).toEqual([1]);
  });

  it("drains an old version: it stops once nothing is in flight on it", () => {
    const old = inst(0);
    const fn = { version: 2, spec: spec({ minInstances: 1 }) };
    const busy = planPool({ fn, instances: [old], load: load({ "fn-hello-1-0": 2 }), now: NOW });
    expect(busy.remove).toEqual([]);
    expect(busy.create).toEqual([0]);
    const done = planPool({
      fn,
      instances: [old, { ...inst(0), name: "fn-hello-2-0", version: 2 }],
      load: load({}),
      now: NOW,
    });
    expect(done.remove.map((r) => r.name)).toEqual(["fn-hello-1-0"]);
  });

  it("stops every instance of a deleted function, and none twice", () => {
    const plan = planPool({
      fn: undefined,
      instances: [inst(0), inst(1, { state: "deleting" })],
      load: load({ "fn-hello-1-0": 3 }),
      now: NOW,
    });
    expect(plan.remove.map((r) => r.name)).toEqual(["fn-hello-1-0"]);
  });
});

describe("sumLoads", () => {
  it("adds in-flight counts and keeps the latest activity across nodes", () => {
    const sum = sumLoads([load({ a: 1 }, 2, 10), load({ a: 2, b: 1 }, 1, 20)]);
    expect(sum).toEqual({
      instances: { a: { inFlight: 3, lastActiveAt: 20 }, b: { inFlight: 1, lastActiveAt: 20 } },
      waiting: 3,
    });
  });
});
