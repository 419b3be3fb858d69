/**
 * The pool controller: while this node leads, once a second (and when poked), it reads the functions,
 * their instance VMs and the gateways' load reports (state/function-state.ts), asks
 * core/function-scaling.ts what to change, and writes it: new instance VMs (which the scheduler then
 * places like any VM), and `deleting` on instances to stop. Each function's changes are one
 * transaction, conditioned on the revisions it read and fenced by the leader's term, with one
 * `function-scaled` event that says what changed and why.
 */
import { errorMessage } from "../core/errors.js";
import { EventKeys, eventEntry } from "../core/events.js";
import { freeInstancePorts, instanceRecord } from "../core/function-instance.js";
import type { FunctionRecord } from "../core/function-record.js";
import { type PoolPlan, planPool, sumLoads } from "../core/function-scaling.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Compare, Store, TxnOp } from "../ports/store.js";
import { type FunctionState, type InstanceInfo, readFunctionState } from "../state/function-state.js";
import { createVmParts, updateVmParts } from "../state/vm-transactions.js";

export interface FunctionPoolOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** The current term's fence, or undefined while this node does not lead. */
  fence: () => Compare | undefined;
  writer: string;
  /** How often to look again without a poke; 1 s by default. */
  intervalMs?: number;
  /** Told of every applied plan (metrics). */
  onPlan?: (fn: string, plan: PoolPlan) => void;
}

export class FunctionPool {
  private readonly log: Logger;
  private readonly eventKeys: EventKeys;
  private timer: TimerHandle | undefined;
  private running = false;
  private passing = false;
  private again = false;

  constructor(private readonly opts: FunctionPoolOptions) {
    this.log = opts.logger.child({ component: "function-pool" });
    this.eventKeys = new EventKeys(`fn-pool-${opts.writer}`);
  }

  start(): void {
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Looks again now (a gateway holds a request for an empty pool). */
  poke(): void {
    if (!this.running) return;
    void this.pass();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.opts.clock.setTimeout(() => {
      void this.pass().finally(() => this.schedule());
    }, this.opts.intervalMs ?? 1000);
  }

  /** One pass over every function; a pass already running runs once more when it ends. */
  async pass(): Promise<void> {
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = true;
    try {
      do {
        this.again = false;
        if (this.opts.fence() === undefined) return;
        await this.converge(await readFunctionState(this.opts.store, { skipWhenNone: true }));
      } while (this.again && this.running);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "function pool pass failed; retrying at the next tick");
    } finally {
      this.passing = false;
    }
  }

  private async converge(state: FunctionState): Promise<void> {
    const names = new Set([...state.records.keys(), ...state.instances.keys()]);
    for (const name of names) {
      const fn = state.records.get(name)?.record;
      const instances = state.instances.get(name) ?? [];
      const plan = planPool({
        fn: fn ? { version: fn.version, spec: fn.spec } : undefined,
        instances,
        load: sumLoads(state.loads.get(name) ?? []),
        now: this.opts.clock.now(),
      });
      if (plan.create.length === 0 && plan.remove.length === 0) continue;
      await this.apply(name, fn, instances, plan, state.takenPorts);
    }
  }

  private async apply(
    name: string,
    fn: FunctionRecord | undefined,
    instances: readonly InstanceInfo[],
    plan: PoolPlan,
    takenPorts: Set<number>,
  ): Promise<void> {
    const fence = this.opts.fence();
    if (!fence) return;
    const now = this.opts.clock.now();
    const compare: Compare[] = [fence];
    const success: TxnOp[] = [];
    const ports = fn ? freeInstancePorts(takenPorts, plan.create.length) : [];
    if (ports.length < plan.create.length) {
      this.log.warn({ fn: name }, "no free instance host port; the pool cannot grow");
    }
    const at = new Date(now).toISOString();
    const created: string[] = [];
    plan.create.slice(0, ports.length).forEach((index, i) => {
      const record = instanceRecord(fn!, index, ports[i]!, at);
      takenPorts.add(ports[i]!);
      created.push(record.name);
      const parts = createVmParts(
        record,
        this.event(now, record.name, `instance of function ${name} version ${fn!.version}`, "created"),
      );
      compare.push(...parts.compare);
      success.push(...parts.success);
    });
    for (const r of plan.remove) {
      const instance = instances.find((i) => i.name === r.name);
      if (!instance) continue;
      const parts = updateVmParts(
        { record: instance.record, modRevision: instance.modRevision },
        { ...instance.record, deleting: true },
        this.event(now, r.name, `delete requested by function ${name}: ${r.reason}`, "requested"),
      );
      compare.push(...parts.compare);
      success.push(...parts.success);
    }
    const summary = [
      plan.from !== plan.to ? `pool ${plan.from} -> ${plan.to}: ${plan.why}` : "",
      created.length > 0 ? `started ${created.join(", ")}` : "",
      ...plan.remove.map((r) => `stopping ${r.name} (${r.reason})`),
    ].filter((s) => s !== "");
    success.push(this.event(now, name, summary.join("; "), "function-scaled"));
    const result = await this.opts.store.txn({ compare, success });
    if (!result.succeeded) {
      // Something it read changed (a status, a port claimed meanwhile): the next pass reads again.
      this.log.debug({ fn: name }, "function pool change raced another writer; retrying");
      return;
    }
    this.log.info({ fn: name, created, removed: plan.remove.map((r) => r.name) }, summary.join("; "));
    this.opts.onPlan?.(name, plan);
  }

  private event(
    now: number,
    vm: string,
    reason: string,
    type: "created" | "requested" | "function-scaled",
  ): TxnOp {
    return eventEntry(this.eventKeys, now, { type, vm, node: "", reason });
  }
}
