/**
 * The pool controller's decisions, as one pure function: given a function's record, its instance VMs
 * and the load the gateways report, which instances to create and which to stop. The controller
 * (control/function-pool.ts) only applies them. Rules (docs/functions.md):
 * - wanted = clamp(ceil((in flight + waiting) / concurrency), minInstances, maxInstances), at least 1
 *   while any request is held or in flight;
 * - a failed instance of the current version is removed and replaced;
 * - surplus instances are stopped only once idle for idleTimeout (no request in flight, none started
 *   or ended since), the highest index first, so traffic packs onto the lowest ones;
 * - instances of older versions drain: they stop once nothing is in flight on them;
 * - a deleted function's instances all stop.
 */
import type { FunctionLoad, InstanceLoad } from "./function-record.js";
import type { FunctionSpec } from "./function-spec.js";

export type InstanceState = "starting" | "ready" | "failed" | "deleting";

export interface InstanceView {
  name: string;
  version: number;
  index: number;
  state: InstanceState;
  /** Epoch ms the instance was created: a new instance is not idle before it had a chance to serve. */
  createdAt: number;
}

export interface PoolInput {
  /** Undefined when the function was deleted. */
  fn: { version: number; spec: FunctionSpec } | undefined;
  instances: readonly InstanceView[];
  /** Every node's report, summed by sumLoads. */
  load: FunctionLoad;
  now: number;
}

export interface PoolPlan {
  /** Indices of new instances of the current version. */
  create: number[];
  remove: { name: string; reason: string }[];
  /** Live instances of the current version before and after the plan, for the scale event. */
  from: number;
  to: number;
  /** Why the pool has the size it gets, in words for the event. */
  why: string;
}

/** Sums several nodes' reports: in flight adds up, the latest activity wins. */
export function sumLoads(loads: readonly FunctionLoad[]): FunctionLoad {
  const instances: Record<string, InstanceLoad> = {};
  let waiting = 0;
  for (const load of loads) {
    waiting += load.waiting;
    for (const [vm, l] of Object.entries(load.instances)) {
      const sum = instances[vm] ?? { inFlight: 0, lastActiveAt: 0 };
      instances[vm] = {
        inFlight: sum.inFlight + l.inFlight,
        lastActiveAt: Math.max(sum.lastActiveAt, l.lastActiveAt),
      };
    }
  }
  return { instances, waiting };
}

export function planPool(input: PoolInput): PoolPlan {
  const { fn, load, now } = input;
  const inFlight = (name: string) => load.instances[name]?.inFlight ?? 0;
  const remove: PoolPlan["remove"] = [];
  const alive = input.instances.filter((i) => i.state !== "deleting");
  if (!fn) {
    for (const i of alive) remove.push({ name: i.name, reason: "its function was deleted" });
    return { create: [], remove, from: alive.length, to: 0, why: "function deleted" };
  }
  const current = alive.filter((i) => i.version === fn.version);
  for (const i of alive) {
    if (i.version !== fn.version && inFlight(i.name) === 0) {
      remove.push({ name: i.name, reason: `drained: version ${fn.version} replaces version ${i.version}` });
    }
  }
  const failed = current.filter((i) => i.state === "failed");
  for (const i of failed) remove.push({ name: i.name, reason: "failed; a new instance replaces it" });
  const live = current.filter((i) => i.state !== "failed");

  const { minInstances, maxInstances, concurrency, idleTimeout } = fn.spec;
  const demand = live.reduce((sum, i) => sum + inFlight(i.name), 0) + load.waiting;
  const byLoad = Math.ceil(demand / concurrency);
  const wanted = Math.min(maxInstances, Math.max(minInstances, byLoad));
  const why =
    demand > 0
      ? `${demand} request(s) in flight or waiting at concurrency ${concurrency} (min ${minInstances}, max ${maxInstances})`
      : `no requests (min ${minInstances})`;

  const create: number[] = [];
  if (live.length < wanted) {
    const used = new Set(alive.filter((i) => i.version === fn.version).map((i) => i.index));
    for (let index = 0; create.length < wanted - live.length; index++) {
      if (!used.has(index)) create.push(index);
    }
    return { create, remove, from: live.length, to: wanted, why };
  }
  const surplus = live.length - wanted;
  const idleMs = idleTimeout * 1000;
  const idle = live
    .filter((i) => {
      const last = Math.max(load.instances[i.name]?.lastActiveAt ?? 0, i.createdAt);
      return inFlight(i.name) === 0 && now - last >= idleMs;
    })
    .sort((a, b) => b.index - a.index);
  const stopping = idle.slice(0, Math.max(0, surplus));
  for (const i of stopping) remove.push({ name: i.name, reason: `idle for ${idleTimeout}s` });
  return { create, remove, from: live.length, to: live.length - stopping.length, why };
}
