/**
 * The node agent: converges this node's VMs to their desired state through the driver and writes the
 * observed status back to the store. It re-adopts running VMs when it starts, so that restarting or
 * killing the agent never restarts a VM. Decisions come from core/reconcile; this file only executes.
 */

import { errorMessage } from "../core/errors.js";
import { EventKeys, eventEntry, statusEvent } from "../core/events.js";
import type { HealthTracker } from "../core/health.js";
import { keys } from "../core/keys.js";
import { type Plan, planVm, scheduleRestart } from "../core/reconcile.js";
import { vmStatusCodec } from "../core/store-codecs.js";
import { type Assignment, initialStatus, type VmRecord, type VmStatus } from "../core/vm-record.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { HealthProber } from "../ports/health-prober.js";
import type { Logger } from "../ports/logger.js";
import type { Compare, Store } from "../ports/store.js";
import type { StopOptions, VmDriver } from "../ports/vm-driver.js";
import { assignmentCollection } from "../state/collections.js";
import { Informer } from "../state/informer.js";
import { deleteVmOps } from "../state/vm-transactions.js";
import { type AgentMetrics, noMetrics } from "./agent-metrics.js";
import { HealthMonitor } from "./health-monitor.js";
import { KeyedQueue } from "./keyed-queue.js";
import { statusChanged } from "./status-diff.js";

export interface AgentOptions {
  nodeId: string;
  store: Store;
  driver: VmDriver;
  clock: Clock;
  logger: Logger;
  prober: HealthProber;
  metrics?: AgentMetrics;
  stopOptions: StopOptions;
  /**
   * How often VMs that can change without a store event are re-checked (a process may die, a write
   * may have failed); 1 s by default. Settled VMs (stopped, or failed for good) are re-checked every
   * `fullResyncEvery` intervals (30 by default), so a node with thousands of stopped VMs stays idle.
   */
  resyncIntervalMs?: number;
  fullResyncEvery?: number;
}

export class Agent {
  /**
   * This node's assignments (keys.nodeAssignmentsPrefix: the only VM keys the agent watches), each a
   * copy of a VM's record, as the store has them (state/informer.ts). Each entry's revision
   * conditions the status writes made on its strength. Assignments holding a record no valid API
   * call could have written are the informer's invalid entries (`refusal`): never started, stopped
   * or removed on their strength, only reported (status message and a `refused` event).
   */
  private readonly vms: Informer<Assignment>;
  private readonly statuses = new Map<string, VmStatus>();
  /** VMs reported as refused: when a valid record replaces theirs, they start afresh. */
  private readonly reportedRefused = new Set<string>();
  /** VMs whose last status write failed, so the store may hold an older status than `statuses`. */
  private readonly unsynced = new Set<string>();
  /** VMs whose last reconcile failed: re-checked on every resync until one succeeds. */
  private readonly dirty = new Set<string>();
  private resyncs = 0;
  private readonly monitors = new Map<string, HealthMonitor>();
  private readonly wakeups = new Map<string, TimerHandle>();
  private readonly queue: KeyedQueue;
  private readonly log: Logger;
  private readonly metrics: AgentMetrics;
  private readonly eventKeys: EventKeys;
  private resyncTimer: TimerHandle | undefined;
  private running = false;
  /** Reconciles run only once the VMs that survived the node's last run have been re-adopted. */
  private adopted = false;
  private fenced = false;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.logger.child({ component: "agent" });
    this.eventKeys = new EventKeys(opts.nodeId);
    this.metrics = opts.metrics ?? noMetrics;
    this.queue = new KeyedQueue((vm, err) =>
      err instanceof StaleRecordError
        ? this.log.debug({ vm }, "the VM's record changed meanwhile; acting on the new one")
        : this.log.error({ vm, err: errorMessage(err) }, "reconcile failed"),
    );
    // A failing store is not hammered: the informer waits 1 s, 2 s, ... up to 30 s between attempts.
    this.vms = new Informer<Assignment>({
      store: opts.store,
      clock: opts.clock,
      logger: this.log,
      collection: assignmentCollection(opts.nodeId),
      onReset: () => this.reloaded(),
      onChange: (name, next) => {
        // A refused record that was replaced by a valid one starts afresh: its refusal was no failure of the VM.
        if (next && this.reportedRefused.delete(name)) this.statuses.delete(name);
        // A change concerns this node if the VM is, or was until now, assigned here.
        if (this.adopted) void this.enqueue(name);
      },
    });
  }

  /** Loads desired state, re-adopts surviving VMs, then follows the store. */
  async start(): Promise<void> {
    this.running = true;
    await this.vms.start();
    for (const name of await this.localNames()) {
      const runtime = await this.opts.driver.adopt(name);
      if (runtime.state === "running") this.log.info({ vm: name, pid: runtime.pid }, "re-adopted running VM");
    }
    this.adopted = true;
    // Not awaited: starting VMs can take long (boots, backoffs), and the node must serve its API meanwhile.
    for (const name of await this.localNames()) void this.enqueue(name);
    this.scheduleResync();
  }

  /** Stops following the store; VMs keep running unless `stopVms` is set. */
  async shutdown(options: { stopVms: boolean }): Promise<void> {
    this.running = false;
    this.resyncTimer?.cancel();
    // The VMs assigned here, read before the informer stops and forgets them.
    const assigned = [...this.vms.entries().keys()];
    this.vms.stop();
    for (const timer of this.wakeups.values()) timer.cancel();
    for (const monitor of this.monitors.values()) monitor.stop();
    this.monitors.clear();
    await this.queue.idle();
    if (!options.stopVms) return;
    for (const name of assigned) {
      const method = await this.opts.driver.stop(name, this.opts.stopOptions);
      this.log.info({ vm: name, method }, "stopped VM on shutdown");
    }
  }

  /**
   * Self-fencing, for a node whose lease may have expired: another node may be given its VMs, so it
   * stops every VM it runs now (QMP quit, then SIGKILL; no graceful wait) and starts none until
   * unfence(). A start already under way finishes first (the driver serialises per VM), then stops.
   */
  async fence(): Promise<void> {
    if (this.fenced) return;
    this.fenced = true;
    for (const monitor of this.monitors.values()) monitor.stop();
    this.monitors.clear();
    const quick = { gracefulTimeoutMs: 0, quitTimeoutMs: 2000, killTimeoutMs: 2000 };
    // Twice: once at once, and once more after reconciles that were under way have finished. A VM
    // that cannot be stopped is logged and the others are still stopped; the node watchdog kills
    // whatever is left once the heartbeat is stale.
    for (const pass of [0, 1]) {
      if (pass === 1) await this.queue.idle();
      const names = await this.opts.driver.list().catch((err: unknown) => {
        this.log.error({ err: errorMessage(err) }, "fencing: cannot list this node's VMs");
        return [] as string[];
      });
      for (const name of names) {
        if (!this.fenced) return;
        try {
          const runtime = await this.opts.driver.inspect(name);
          if (runtime.state !== "running") continue;
          const method = await this.opts.driver.stop(name, quick);
          this.log.warn({ vm: name, method }, "fenced: stopped VM while this node's lease may have expired");
        } catch (err) {
          this.log.error({ vm: name, err: errorMessage(err) }, "fencing: could not stop VM");
        }
      }
    }
  }

  /** The lease is back: reconcile everything again (VMs still assigned here start again). */
  unfence(): void {
    if (!this.fenced) return;
    this.fenced = false;
    void this.localNames().then((names) => {
      for (const name of names) void this.enqueue(name);
    });
  }

  /** Reconciles one VM now (queued behind any pass already running for it). */
  enqueue(name: string): Promise<void> {
    return this.queue.coalesce(name, async () => {
      try {
        await this.reconcile(name);
        this.dirty.delete(name);
      } catch (err) {
        this.dirty.add(name);
        throw err;
      }
    });
  }

  /** Resolves once no reconcile is queued or running; for tests. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * After every list of the VM records (at start, and again when a watch fell behind compaction):
   * this node's statuses are read again with them, and once the node runs, every VM is looked at.
   */
  private async reloaded(): Promise<void> {
    // The statuses of this node's VMs only (assigned here, or found on the host), read one by one:
    // the cost of a node's start does not grow with the cluster.
    const names = await this.localNames();
    const read = await Promise.all([...names].map((name) => this.opts.store.get(keys.status(name))));
    this.statuses.clear();
    for (const [i, name] of [...names].entries()) {
      const kv = read[i];
      if (!kv) continue;
      const decoded = vmStatusCodec.decode(kv.value);
      if (!decoded.ok) {
        this.log.warn(
          { vm: name, problem: decoded.problem },
          "ignoring a VM status that cannot be read; the next report rewrites it",
        );
        continue;
      }
      // Only this node's reports: after a failover the key may hold the new owner's.
      if (decoded.value.node === this.opts.nodeId) this.statuses.set(name, decoded.value);
    }
    if (this.adopted) for (const name of await this.localNames()) void this.enqueue(name);
  }

  private record(name: string): VmRecord | undefined {
    return this.vms.get(name)?.value.record;
  }

  /** What is wrong with the assignment here that the agent refuses to act on, and its revision. */
  private refusal(name: string): { problem: string; revision: number } | undefined {
    const bad = this.vms.invalidEntries().get(name);
    return bad ? { problem: bad.problem, revision: bad.kv.modRevision } : undefined;
  }

  /** The store revision of the record the agent acts on: status writes are conditioned on it. */
  private revision(name: string): number | undefined {
    return this.vms.get(name)?.kv.modRevision ?? this.refusal(name)?.revision;
  }

  private async localNames(): Promise<Set<string>> {
    const refused = this.vms.invalidEntries().keys();
    return new Set([...this.vms.entries().keys(), ...refused, ...(await this.opts.driver.list())]);
  }

  private scheduleResync(): void {
    if (!this.running) return;
    this.resyncTimer = this.opts.clock.setTimeout(async () => {
      const full = ++this.resyncs % (this.opts.fullResyncEvery ?? 30) === 0;
      for (const name of await this.localNames().catch(() => new Set<string>())) {
        if (full || !this.settled(name)) void this.enqueue(name);
      }
      this.scheduleResync();
    }, this.opts.resyncIntervalMs ?? 1000);
  }

  /** Nothing but a store event can change this VM: it has no process to watch and nothing to retry. */
  private settled(name: string): boolean {
    const status = this.statuses.get(name);
    if (!status || !this.record(name) || this.unsynced.has(name) || this.dirty.has(name)) return false;
    return status.phase === "Stopped" || (status.phase === "Failed" && status.nextRestartAt === null);
  }

  private async reconcile(name: string): Promise<void> {
    if (!this.running || this.fenced) return;
    const t0 = this.opts.clock.now();
    const record = this.record(name);
    const refusal = this.refusal(name);
    if (refusal !== undefined) {
      await this.reportRefused(name, refusal.problem);
    } else if (!record) {
      await this.removeOrphan(name);
    } else {
      const runtime = await this.opts.driver.inspect(name);
      const plan = planVm({
        record,
        node: this.opts.nodeId,
        status: this.statuses.get(name),
        runtime,
        now: this.opts.clock.now(),
      });
      await this.writeStatus(name, plan.status);
      await this.execute(record, plan);
    }
    this.metrics.reconcileSeconds((this.opts.clock.now() - t0) / 1000);
  }

  private async execute(record: VmRecord, plan: Plan): Promise<void> {
    const { name } = record;
    const action = plan.action;
    switch (action.type) {
      case "none":
        this.ensureMonitor(record, plan.status);
        return;
      case "wait":
        this.stopMonitor(name);
        this.wakeAt(name, action.at);
        return;
      case "start":
        if (action.automatic) this.metrics.restarted(name);
        return this.startVm(record, plan.status);
      case "stop": {
        this.stopMonitor(name);
        const method = await this.opts.driver.stop(name, this.opts.stopOptions);
        this.log.info({ vm: name, method, reason: action.reason }, "stopped VM");
        await this.writeStatus(name, {
          ...plan.status,
          phase: "Stopped",
          pid: null,
          health: "none",
          message: `stopped (${method})`,
        });
        if (action.reason !== "stop") void this.enqueue(name);
        return;
      }
      case "remove":
        return this.removeVm(record);
    }
  }

  private async startVm(record: VmRecord, starting: VmStatus): Promise<void> {
    const { name, spec } = record;
    const driver = this.opts.driver;
    try {
      await driver.prepare(name, spec, (p) => this.log.debug({ vm: name, step: p.step }, "preparing"));
      const consoleOffset = await driver.logSize(name);
      const started = await driver.start(name, spec);
      const startedAt = new Date(started.startedAt).toISOString();
      const noCheck = !spec.healthCheck;
      const status: VmStatus = {
        ...starting,
        phase: "Running",
        pid: started.pid,
        startedAt,
        readyAt: noCheck ? startedAt : null,
        consoleOffset,
        message: "",
        updatedAt: new Date(this.opts.clock.now()).toISOString(),
      };
      await this.writeStatus(name, status);
      if (noCheck) this.metrics.ready(name, 0);
      this.log.info({ vm: name, pid: started.pid }, "started VM");
      this.ensureMonitor(record, status);
    } catch (err) {
      if (err instanceof StaleRecordError) throw err;
      this.log.warn({ vm: name, err: errorMessage(err) }, "VM failed to start");
      const plan = scheduleRestart(
        starting,
        record,
        this.opts.clock.now(),
        `start failed: ${errorMessage(err)}`,
      );
      await this.writeStatus(name, plan.status);
      if (plan.action.type === "wait") this.wakeAt(name, plan.action.at);
    }
  }

  private ensureMonitor(record: VmRecord, status: VmStatus): void {
    const check = record.spec.healthCheck;
    if (!check || status.phase !== "Running" || status.pid === null || this.monitors.has(record.name)) return;
    const startedAt = status.startedAt ? Date.parse(status.startedAt) : this.opts.clock.now();
    const monitor = new HealthMonitor(
      { clock: this.opts.clock, prober: this.opts.prober, driver: this.opts.driver, logger: this.log },
      record.name,
      record.spec,
      check,
      startedAt,
      status.consoleOffset,
      (state) => void this.queue.run(record.name, () => this.onHealth(record.name, startedAt, state)),
      status.health === "healthy",
    );
    this.monitors.set(record.name, monitor);
    monitor.start();
  }

  private stopMonitor(name: string): void {
    this.monitors.get(name)?.stop();
    this.monitors.delete(name);
  }

  private async onHealth(name: string, startedAt: number, state: HealthTracker): Promise<void> {
    const status = this.statuses.get(name);
    const record = this.record(name);
    if (!status || !record || status.phase !== "Running") return;
    const now = this.opts.clock.now();
    const next: VmStatus = { ...status, health: state.health, updatedAt: new Date(now).toISOString() };
    if (state.health === "healthy" && status.readyAt === null) {
      next.readyAt = new Date(now).toISOString();
      this.metrics.ready(name, (now - startedAt) / 1000);
    }
    this.log.info({ vm: name, health: state.health }, "health changed");
    if (state.health !== "unhealthy" || record.spec.restartPolicy === "never") {
      await this.writeStatus(name, next);
      return;
    }
    // An unhealthy VM is restarted like a crashed one: stop it, then start again after the backoff.
    this.stopMonitor(name);
    await this.writeStatus(name, { ...next, phase: "Stopping", message: "health check failing; restarting" });
    await this.opts.driver.stop(name, this.opts.stopOptions);
    const plan = scheduleRestart(next, record, this.opts.clock.now(), "health check failed");
    await this.writeStatus(name, plan.status);
    if (plan.action.type === "wait") this.wakeAt(name, plan.action.at);
  }

  private wakeAt(name: string, at: number): void {
    this.wakeups.get(name)?.cancel();
    const delay = Math.max(0, at - this.opts.clock.now());
    this.wakeups.set(
      name,
      this.opts.clock.setTimeout(() => {
        this.wakeups.delete(name);
        void this.enqueue(name);
      }, delay),
    );
  }

  /** The VM is still assigned here, as the revision the agent acts on says. */
  private assigned(name: string, revision: number): Compare {
    return { key: keys.assignment(this.opts.nodeId, name), target: "modRevision", op: "=", value: revision };
  }

  /**
   * Writes a status unless the store already holds it. The agent is the only writer of its VMs'
   * statuses, so its own last status is what it plans from, even when a write failed; a failed write
   * (which may or may not have applied) marks the VM unsynced, and the next write goes through even
   * if nothing changed, so the store never keeps a status the agent has moved past.
   *
   * Every write is conditioned on the VM's record being the one the agent acts on. When the record
   * changed meanwhile (the leader moved the VM while this node was cut off, say, and the agent has not
   * seen it yet), nothing is written and StaleRecordError stops the action under way: a node must not
   * overwrite the new owner's status, nor start a VM on the strength of an assignment it has lost.
   */
  private async writeStatus(name: string, status: VmStatus): Promise<void> {
    const revision = this.revision(name);
    if (revision === undefined) throw new StaleRecordError(name);
    if (!this.unsynced.has(name) && !statusChanged(this.statuses.get(name), status)) return;
    const previous = this.statuses.get(name);
    this.statuses.set(name, status);
    this.unsynced.add(name);
    const type = statusEvent(previous, status);
    const put = { type: "put" as const, key: keys.status(name), value: JSON.stringify(status) };
    const event = type
      ? [
          eventEntry(this.eventKeys, this.opts.clock.now(), {
            type,
            vm: name,
            node: this.opts.nodeId,
            reason: status.message,
          }),
        ]
      : [];
    const result = await this.opts.store.txn({
      compare: [this.assigned(name, revision)],
      success: [put, ...event],
    });
    if (!result.succeeded) throw new StaleRecordError(name);
    if (this.statuses.get(name) === status) this.unsynced.delete(name);
  }

  /**
   * Reports a record this agent will not act on. A VM already running under an earlier, valid record is
   * left as it is (stopping it on the word of an untrusted record would be an attack of its own); the
   * operator fixes or deletes the record. Written once per distinct problem, not at every resync.
   */
  private async reportRefused(name: string, problem: string): Promise<void> {
    const message = `refused: the store holds a record for this VM that no valid API call could have written (${problem.slice(0, 2000)}); nothing was started. Delete it with: blixard vm delete ${name}`;
    const previous = this.statuses.get(name);
    if (previous?.message === message && !this.unsynced.has(name)) return;
    const revision = this.revision(name);
    if (revision === undefined) return;
    this.stopMonitor(name);
    const now = this.opts.clock.now();
    const running = (await this.opts.driver.inspect(name)).state === "running";
    const base = previous ?? initialStatus(this.opts.nodeId, new Date(now).toISOString());
    const status: VmStatus = {
      ...base,
      phase: running ? base.phase : "Failed",
      message,
      nextRestartAt: null,
      updatedAt: new Date(now).toISOString(),
    };
    this.log.error({ vm: name, problem }, "refused an invalid VM record from the store");
    this.reportedRefused.add(name);
    this.statuses.set(name, status);
    this.unsynced.add(name);
    const result = await this.opts.store.txn({
      compare: [this.assigned(name, revision)],
      success: [
        { type: "put", key: keys.status(name), value: JSON.stringify(status) },
        eventEntry(this.eventKeys, now, {
          type: "refused",
          vm: name,
          node: this.opts.nodeId,
          reason: message,
        }),
      ],
    });
    if (!result.succeeded) throw new StaleRecordError(name);
    this.unsynced.delete(name);
  }

  private async removeVm(record: VmRecord): Promise<void> {
    const { name } = record;
    this.stopMonitor(name);
    await this.opts.driver.remove(name);
    const deleted = await this.opts.store.txn({
      compare: [],
      success: deleteVmOps(
        record,
        this.opts.nodeId,
        eventEntry(this.eventKeys, this.opts.clock.now(), {
          type: "deleted",
          vm: name,
          node: this.opts.nodeId,
          reason: "stopped and its state removed",
        }),
      ),
    });
    this.statuses.delete(name);
    this.unsynced.delete(name);
    this.vms.observeDelete(keys.assignment(this.opts.nodeId, name), deleted.revision);
    this.log.info({ vm: name }, "deleted VM");
  }

  /**
   * A VM on this node with no record (deleted behind our back, or assigned elsewhere) is fenced off:
   * stopped, and its state dir quarantined rather than deleted.
   */
  private async removeOrphan(name: string): Promise<void> {
    const runtime = await this.opts.driver.inspect(name);
    if (runtime.state === "running") {
      const method = await this.opts.driver.stop(name, this.opts.stopOptions);
      this.log.warn({ vm: name, method }, "stopped a VM that has no desired state on this node");
    }
    this.stopMonitor(name);
    if ((await this.opts.driver.list()).includes(name)) {
      // Nobody asked this node to delete it: after a failover its disk may hold the only copy of the
      // guest's writes, and an empty or wrong store must not wipe every disk. Moved aside, kept.
      const reason = "no record assigns it to this node";
      await this.opts.driver.remove(name, { quarantine: { reason } });
      await this.opts.store.txn({
        compare: [],
        success: [
          eventEntry(this.eventKeys, this.opts.clock.now(), {
            type: "quarantined",
            vm: name,
            node: this.opts.nodeId,
            reason: `its state dir was moved to quarantine: ${reason}`,
          }),
        ],
      });
    }
    if (this.statuses.has(name)) {
      // A delete that fails may still have applied (a lost reply): until it is known to be done, the
      // store may hold no status at all, so the next status for this VM must be written whatever it is.
      this.unsynced.add(name);
      // Only our own report: after a failover the key may already hold the new owner's status.
      const kv = await this.opts.store.get(keys.status(name));
      const status = kv ? vmStatusCodec.decode(kv.value) : undefined;
      if (kv && status?.ok && status.value.node === this.opts.nodeId) {
        await this.opts.store.txn({
          compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
          success: [{ type: "delete", key: kv.key }],
        });
      }
      this.statuses.delete(name);
      this.unsynced.delete(name);
    }
  }
}

/** The VM's record changed since the agent last saw it: the watch brings the new one, and a reconcile. */
class StaleRecordError extends Error {
  constructor(vm: string) {
    super(`the record of VM ${vm} changed since this node read it`);
  }
}
