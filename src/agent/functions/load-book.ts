/**
 * What this node's gateway sees of each function: requests in flight per instance, requests held
 * waiting, and when each instance last started or ended a request. Reported to the store under
 * keys.functionLoad(node, fn), bound to the node's lease (a dead node's counts vanish with it): at
 * most every `flushMs` after a change, and every `heartbeatMs` anyway, so that a report lost with a
 * lease comes back under the next one. The pool controller sums the nodes' reports.
 */
import { errorMessage } from "../../core/errors.js";
import { encodeFunctionLoad, type FunctionLoad, type InstanceLoad } from "../../core/function-record.js";
import { keys } from "../../core/keys.js";
import type { Clock, TimerHandle } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { Store } from "../../ports/store.js";

export interface LoadBookOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  /** The node's liveness lease, when it has one. */
  lease: () => number | undefined;
  flushMs?: number;
  heartbeatMs?: number;
}

export class LoadBook {
  private readonly instances = new Map<string, Map<string, InstanceLoad>>();
  private readonly waiting = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private flushTimer: TimerHandle | undefined;
  private beatTimer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly opts: LoadBookOptions) {}

  start(): void {
    this.running = true;
    const beat = () => {
      if (!this.running) return;
      for (const fn of this.instances.keys()) this.dirty.add(fn);
      for (const fn of this.waiting.keys()) this.dirty.add(fn);
      void this.flush();
      this.beatTimer = this.opts.clock.setTimeout(beat, this.opts.heartbeatMs ?? 2000);
    };
    beat();
  }

  /** Stops reporting and withdraws this node's reports. */
  async stop(): Promise<void> {
    this.running = false;
    this.flushTimer?.cancel();
    this.beatTimer?.cancel();
    const fns = new Set([...this.instances.keys(), ...this.waiting.keys()]);
    await Promise.all(
      [...fns].map((fn) =>
        this.opts.store.delete(keys.functionLoad(this.opts.nodeId, fn)).catch(() => undefined),
      ),
    );
  }

  inFlight(fn: string, vm: string): number {
    return this.instances.get(fn)?.get(vm)?.inFlight ?? 0;
  }

  waitingFor(fn: string): number {
    return this.waiting.get(fn) ?? 0;
  }

  began(fn: string, vm: string): void {
    this.change(fn, vm, +1);
  }

  ended(fn: string, vm: string): void {
    this.change(fn, vm, -1);
  }

  setWaiting(fn: string, n: number): void {
    if (n === this.waitingFor(fn)) return;
    if (n === 0) this.waiting.delete(fn);
    else this.waiting.set(fn, n);
    this.touch(fn);
  }

  /** Forgets instances that no longer exist (and have nothing in flight here). */
  prune(exists: (vm: string) => boolean): void {
    for (const [fn, byVm] of this.instances) {
      for (const [vm, load] of byVm) {
        if (load.inFlight === 0 && !exists(vm)) {
          byVm.delete(vm);
          this.touch(fn);
        }
      }
    }
  }

  private change(fn: string, vm: string, delta: number): void {
    const byVm = this.instances.get(fn) ?? new Map<string, InstanceLoad>();
    this.instances.set(fn, byVm);
    const load = byVm.get(vm) ?? { inFlight: 0, lastActiveAt: 0 };
    byVm.set(vm, { inFlight: Math.max(0, load.inFlight + delta), lastActiveAt: this.opts.clock.now() });
    this.touch(fn);
  }

  private touch(fn: string): void {
    this.dirty.add(fn);
    if (!this.running || this.flushTimer) return;
    this.flushTimer = this.opts.clock.setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.opts.flushMs ?? 500);
  }

  private async flush(): Promise<void> {
    const fns = [...this.dirty];
    this.dirty.clear();
    const lease = this.opts.lease();
    for (const fn of fns) {
      const byVm = this.instances.get(fn);
      const waiting = this.waitingFor(fn);
      const key = keys.functionLoad(this.opts.nodeId, fn);
      try {
        if ((!byVm || byVm.size === 0) && waiting === 0) {
          this.instances.delete(fn);
          await this.opts.store.delete(key);
          continue;
        }
        const load: FunctionLoad = { instances: Object.fromEntries(byVm ?? []), waiting };
        await this.opts.store.put(key, encodeFunctionLoad(load), lease === undefined ? {} : { lease });
      } catch (err) {
        // The next heartbeat writes it again.
        this.opts.logger.debug({ fn, err: errorMessage(err) }, "could not report function load");
      }
    }
  }
}
