/**
 * The scheduler controller: while this node leads, it keeps a cache of nodes, liveness and VM records
 * (scheduler-cache.ts: informers started when it is elected and stopped when it no longer leads)
 * and, whenever something changes and once a second for the grace timers, applies the decisions of
 * core/scheduling.ts. Every write is compare-and-swap on the
 * record it read and fenced by the leader's term, so a deposed leader's decisions never land.
 */

import { BlixardError, errorMessage } from "../core/errors.js";
import { EventKeys, type EventType, eventEntry } from "../core/events.js";
import { keys } from "../core/keys.js";
import { type NodeView, nodeViews } from "../core/node-record.js";
import { RetryBackoff } from "../core/retry-backoff.js";
import { type Decision, planScheduling, type SchedulerConfig } from "../core/scheduling.js";
import { placementCodec } from "../core/store-codecs.js";
import { type Placement, resourcesOf } from "../core/vm-record.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Random } from "../ports/random.js";
import type { Compare, Store, TxnOp } from "../ports/store.js";
import { deleteVmOps, placeVmOps } from "../state/vm-transactions.js";
import { ResizeGate } from "./resize-gate.js";
import { SchedulerCache } from "./scheduler-cache.js";
import { placementOf, pruneEventLog, stillGone } from "./scheduler-helpers.js";

export interface SchedulerOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  random: Random;
  config: SchedulerConfig;
  /** The current term's fence, or undefined while this node does not lead. */
  fence: () => Compare | undefined;
  /** How often to look again without a change (grace timers); 1 s by default. */
  intervalMs?: number;
  /** Names this writer in event keys (the node id). */
  writer?: string;
  /** Events kept in the log; older ones are pruned by the leader every 30 intervals. 10,000 by default. */
  maxEvents?: number;
}

export class Scheduler {
  private readonly cache: SchedulerCache;
  private readonly notReadySince = new Map<string, number>();
  /** The generation at which each unplaceable VM was last tried. */
  private readonly triedAt = new Map<string, number>();
  /** The nodes as the current pass sees them. */
  private views = new Map<string, NodeView>();
  private readonly resizes: ResizeGate;
  /** Invalid VM records reported, with the revision reported. */
  private readonly refused = new Map<string, number>();
  private readonly log: Logger;
  private timer: TimerHandle | undefined;
  private running = false;
  private loaded = false;
  /** Whether the cache has been (or is being) loaded since this node was elected. */
  private cached = false;
  private loading = false;
  private loadAgain = false;
  private loadTimer: TimerHandle | undefined;
  private passing = false;
  private again = false;
  /**
   * Waits between reloads after failures: a store that fails every write (a full disk) once made the
   * reload-and-retry a hot loop. A lost reply is retried at once; then 0.5 s, 1 s, ... up to 30 s on
   * the injected clock, from the first wait again after a pass whose writes all landed.
   */
  private readonly reloads = new RetryBackoff({ initialSeconds: 0.5, maxSeconds: 30, firstAtOnce: true });

  private readonly eventKeys: EventKeys;

  constructor(private readonly opts: SchedulerOptions) {
    this.log = opts.logger.child({ component: "scheduler" });
    this.eventKeys = new EventKeys(`scheduler-${opts.writer ?? "leader"}`);
    this.cache = new SchedulerCache({
      store: opts.store,
      clock: opts.clock,
      logger: this.log,
      onChange: () => {
        if (this.loaded) this.poke();
      },
      onVmGone: (name) => {
        this.triedAt.delete(name);
        this.resizes.forget(name);
      },
    });
    this.resizes = new ResizeGate({
      store: opts.store,
      logger: this.log,
      load: this.cache.perNode,
      views: () => this.views,
      event: (type, vm, node, reason) => this.event(type, vm, node, reason),
    });
  }

  start(): void {
    this.running = true;
    this.tick();
    this.poke();
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.loadTimer?.cancel();
    this.cache.unload();
  }

  /**
   * Runs a pass now, or right after the one in progress. Only the leader keeps the cache and its
   * watches: a node that does not lead drops them (every VM change would otherwise be streamed to and
   * parsed by every node's scheduler), and loads them when it is elected.
   */
  poke(): void {
    if (!this.running) return;
    if (!this.opts.fence()) {
      this.unload();
      return;
    }
    if (!this.loaded) {
      // A reload waiting out its backoff is not hurried by every change or tick.
      if (!this.loadTimer) void this.load();
      return;
    }
    if (this.passing) {
      this.again = true;
      return;
    }
    void this.pass();
  }

  private ticks = 0;

  private tick(): void {
    if (!this.running) return;
    this.timer = this.opts.clock.setTimeout(() => {
      this.poke();
      if (++this.ticks % 30 === 0) void this.pruneEvents();
      this.tick();
    }, this.opts.intervalMs ?? 1000);
  }

  /** Keeps the event log to maxEvents: deletes the oldest keys (they sort by time), fenced, in batches. */
  async pruneEvents(): Promise<void> {
    const fence = this.opts.fence();
    if (!fence) return;
    try {
      await pruneEventLog(this.opts.store, fence, this.opts.maxEvents ?? 10_000);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "could not prune the event log");
    }
  }

  /** Forgets the cache and closes its watches (this node does not lead). */
  private unload(): void {
    if (!this.loaded && !this.loading && !this.cached) return;
    this.cached = false;
    this.cache.unload();
    this.loadTimer?.cancel();
    this.loadTimer = undefined;
    this.loaded = false;
    this.loadAgain = false;
    this.notReadySince.clear();
    this.triedAt.clear();
    this.resizes.clear();
  }

  /**
   * After a failure: the cache may no longer say where VMs are (a write whose reply was lost may have
   * landed), so it is dropped and read again once the backoff has passed.
   */
  private reloadAfterFailure(err: unknown, what: string): void {
    const delayMs = this.reloads.failed(this.opts.clock.now());
    this.log.warn(
      { err: errorMessage(err), retryInMs: delayMs, failures: this.reloads.consecutiveFailures },
      `${what}; reloading the cluster state`,
    );
    this.loaded = false;
    if (delayMs === 0) void this.load();
    else this.loadLater(delayMs);
  }

  /** A reload in a while, unless one is pending already (every broken watch asks for one). */
  private loadLater(ms: number): void {
    if (!this.running || this.loadTimer) return;
    this.loadTimer = this.opts.clock.setTimeout(() => {
      this.loadTimer = undefined;
      void this.load();
    }, ms);
  }

  /**
   * Loads the cache and follows the prefixes it is made of; reloads after a broken watch. One load at
   * a time: a load asked for while one runs follows it.
   */
  private async load(): Promise<void> {
    if (!this.running || !this.opts.fence()) return;
    if (this.loading) {
      // It may have read the store before whatever made the caller ask: load once more after it.
      this.loadAgain = true;
      return;
    }
    this.loading = true;
    this.loadAgain = false;
    this.loaded = false;
    try {
      // Each prefix is listed again and followed from there. The scheduler's own writes that landed
      // after a list's read stay (state/informer.ts): without them the next pass would fill their
      // nodes twice. Every list counts as a change that may have made room: Pending VMs are retried.
      this.cached = true;
      await this.cache.load();
      this.loaded = true;
      this.poke();
    } catch (err) {
      this.reloadAfterFailure(err, "cannot load the cluster state");
    } finally {
      this.loading = false;
      if (this.loadAgain) void this.load();
    }
  }

  private async pass(): Promise<void> {
    this.passing = true;
    try {
      do {
        this.again = false;
        const fence = this.opts.fence();
        if (!fence) {
          // Not leading: forget the grace timers, a new term starts them afresh.
          this.notReadySince.clear();
          return;
        }
        const statuses = await this.cache.handoffStatuses();
        const views = nodeViews(this.cache.nodeRecords(), this.cache.aliveNodes(), this.cache.cordonMap());
        this.views = new Map(views.map((view) => [view.id, view]));
        // Still leading the same term after the read: the decisions are fenced by it anyway.
        if (!this.running || this.opts.fence()?.value !== fence.value) return;
        // The unplaceable VMs tried again in this pass are marked tried at this generation; the others
        // are marked already. Only those are visited, not every Pending VM at every pass.
        const generation = this.cache.capacityGeneration;
        const tried: string[] = [];
        const decisions = planScheduling(
          {
            nodes: views,
            load: this.cache.perNode,
            statuses,
            retry: (vm) => {
              if (this.triedAt.get(vm.name) === generation) return false;
              tried.push(vm.name);
              return true;
            },
            now: this.opts.clock.now(),
            notReadySince: this.notReadySince,
          },
          this.opts.config,
          () => this.opts.random.next(),
        );
        for (const name of tried) this.triedAt.set(name, generation);
        // Concurrently: the writes are independent (each guarded by its VM's revision and the fence),
        // and a remote store then carries them in few transactions (store/group-commit/group-commit-store.ts).
        const decided = new Set(decisions.map((decision) => decision.vm));
        const copies: Copy[] = [...this.cache.stale]
          .filter((vm) => !decided.has(vm))
          .map((vm) => ({ type: "copy", vm }));
        const applied = await Promise.allSettled([
          ...[...decisions, ...copies].map((decision) => this.apply(decision, fence)),
          this.reportRefused(fence),
        ]);
        const failed = applied.find((outcome) => outcome.status === "rejected");
        if (failed) throw failed.reason;
        this.reloads.succeeded();
      } while (this.again && this.running);
    } catch (err) {
      // A write whose reply was lost may have landed: the cache no longer says where VMs are, and a
      // pass from it could fill a node twice. Read everything again (which retries every Pending VM).
      this.reloadAfterFailure(err, "scheduling pass failed");
    } finally {
      this.passing = false;
    }
  }

  /**
   * VM records no valid API call could have written (an `etcdctl put`, a hand-edited store) are never
   * placed; each is reported once per revision with a `refused` event that says why and what to do.
   */
  private async reportRefused(fence: Compare): Promise<void> {
    for (const [name, { problem, kv }] of this.cache.invalidVms()) {
      if (this.refused.get(name) === kv.modRevision) continue;
      const reason = `refused: the store holds a record for this VM that no valid API call could have written (${problem.slice(0, 2000)}); it is not placed anywhere. Delete it with: blixard vm delete ${name}`;
      await this.opts.store.txn({ compare: [fence], success: [this.event("refused", name, "", reason)] });
      this.refused.set(name, kv.modRevision);
      this.log.error({ vm: name, problem }, "refused an invalid VM record from the store");
    }
    for (const name of this.refused.keys()) if (!this.cache.invalidVms().has(name)) this.refused.delete(name);
  }

  private event(type: EventType, vm: string, node: string, reason: string) {
    return eventEntry(this.eventKeys, this.opts.clock.now(), { type, vm, node, reason });
  }

  private async apply(decision: Decision | Copy, fence: Compare): Promise<void> {
    const cached = this.cache.vm(decision.vm);
    if (!cached) return;
    const { kv, value: record } = cached;
    const stored = this.cache.placement(decision.vm);
    const placement = stored?.value;
    const previousNode = placement?.node ?? "";
    // Every write is conditioned on the record and the placement it was decided from, and the fence.
    const unchanged: Compare[] = [
      { key: kv.key, target: "modRevision", op: "=", value: kv.modRevision },
      stored
        ? { key: stored.kv.key, target: "modRevision", op: "=", value: stored.kv.modRevision }
        : { key: keys.placement(decision.vm), target: "createRevision", op: "=", value: 0 },
    ];
    if (decision.type === "finish-delete") {
      const deleted = await this.opts.store.txn({
        compare: [...unchanged, fence, ...stillGone(decision.node || undefined)],
        success: deleteVmOps(
          record,
          previousNode,
          this.event("deleted", record.name, decision.node, "its node is gone"),
          (volume) => this.event("volume-detached", record.name, decision.node, `released volume ${volume}`),
        ),
      });
      if (!deleted.succeeded) {
        // The record changed since the cache read it, or the node came back. Dropping it from the
        // cache anyway left a VM `deleting` in the store for good, with no event, when the change's
        // watch event did not come (a lagging watch): fail the pass so the state is read again.
        throw new BlixardError("CONFLICT", `VM ${record.name} changed before its delete landed; reloading`);
      }
      this.cache.deletedVm(record.name, deleted.revision);
      this.log.info({ vm: record.name, node: decision.node || undefined }, "deleted VM whose node is gone");
      return;
    }
    const change =
      decision.type === "copy"
        ? await this.resizes.copy(record, placement!, kv.modRevision)
        : { ...this.change(placement, kv.modRevision, decision), copy: record };
    if (!change) return;
    const { next, event } = change;
    const value = placementCodec.encode(next);
    const result = await this.opts.store.txn({
      // A VM moved off a lost node only while that node is still gone; a drained one from a live node.
      compare: [
        ...unchanged,
        fence,
        ...(decision.type === "assign" || decision.type === "unschedulable" ? stillGone(decision.from) : []),
      ],
      success: placeVmOps(change.copy, next, previousNode, event),
    });
    if (!result.succeeded) {
      // The record changed since the cache read it (a user's restart, say): decide again on the new
      // one, even if the cluster has not changed since this VM was last found unplaceable.
      this.triedAt.delete(record.name);
      return;
    }
    // The cache takes the write at once: the next pass must count this VM on its node even if the
    // watch has not delivered it yet, or it would fill the node twice.
    this.cache.wrotePlacement({
      key: keys.placement(record.name),
      value,
      createRevision: stored?.kv.createRevision || result.revision,
      modRevision: result.revision,
      version: (stored?.kv.version ?? 0) + 1,
      lease: 0,
    });
    if (decision.type === "assign") {
      this.log.info(
        { vm: record.name, node: decision.node, from: decision.from, epoch: next.epoch },
        decision.from ? "rescheduled VM from a lost node" : "scheduled VM",
      );
    } else if (decision.type === "evict") {
      this.log.info(
        { vm: record.name, from: decision.from, epoch: next.epoch },
        "took VM off a draining node",
      );
    } else if (decision.type === "unschedulable") {
      this.log.warn({ vm: record.name, reason: decision.message }, "cannot place VM");
    } else {
      this.log.debug({ vm: record.name, node: next.node }, "copied the changed record to its node");
    }
  }

  /** The placement a decision writes (for the record at `recordRevision`), and the event that says so. */
  private change(
    placement: Placement | undefined,
    recordRevision: number,
    decision: Exclude<Decision, { type: "finish-delete" } | Copy>,
  ): { next: Placement; event?: TxnOp } {
    const epoch = placement?.epoch ?? 0;
    const vm = decision.vm;
    switch (decision.type) {
      case "assign": {
        const next: Placement = {
          node: decision.node,
          epoch: epoch + 1,
          recordRevision,
          resources: resourcesOf(this.cache.vm(vm)!.value),
        };
        const cached = this.cache.vm(vm)!.value;
        const event = this.event(
          decision.from ? "rescheduled" : "scheduled",
          vm,
          decision.node,
          decision.from ? `its node ${decision.from} was lost` : `placed by ${placementOf(cached)}`,
        );
        return { next, event };
      }
      case "evict": {
        const next: Placement = { node: "", epoch: epoch + 1, handoffFrom: decision.from, recordRevision };
        const reason = `taken off ${decision.from}, which is draining; placed elsewhere once it has stopped there`;
        return { next, event: this.event("rescheduled", vm, decision.from, reason) };
      }
      case "unschedulable": {
        const placed = (placement?.node ?? "") !== "";
        const next: Placement = {
          node: "",
          epoch: epoch + (placed ? 1 : 0),
          unschedulable: decision.message,
          recordRevision,
        };
        return { next, event: this.event("unschedulable", vm, decision.from ?? "", decision.message) };
      }
    }
  }
}

/**
 * A placed VM whose record the user changed (stop, restart, delete, update): the node's assignment
 * copies it again. Only the scheduler writes assignments, so each agent need watch only its own.
 */
interface Copy {
  type: "copy";
  vm: string;
}
