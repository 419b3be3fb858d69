/**
 * The node agent: converges this node's VMs to their desired state through the driver and writes the
 * observed status back to the store. It re-adopts running VMs when it starts, so that restarting or
 * killing the agent never restarts a VM. Decisions come from core/reconcile; this file only executes.
 */

import { errorMessage } from "../core/errors.js";
import { EventKeys } from "../core/events.js";
import type { HealthTracker } from "../core/health.js";
import { keys } from "../core/keys.js";
import { type Plan, planVm, scheduleRestart } from "../core/reconcile.js";
import { bridgeAttachment } from "../core/vm-network.js";
import type { Assignment, VmRecord, VmStatus } from "../core/vm-record.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { HealthProber } from "../ports/health-prober.js";
import type { Logger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import type { StopOptions, VmDriver } from "../ports/vm-driver.js";
import type { VolumeBackend } from "../ports/volume-backend.js";
import { assignmentCollection } from "../state/collections.js";
import { Informer } from "../state/informer.js";
import { type AgentMetrics, noMetrics } from "./agent-metrics.js";
import { HealthMonitors } from "./health-monitors.js";
import { KeyedQueue } from "./keyed-queue.js";
import { StaleRecordError } from "./stale-record-error.js";
import { StatusReporter } from "./status-reporter.js";
import { fenceOffOrphan, type RemovalContext, removeDeletedVm } from "./vm-removal.js";
import { volumeSources } from "./volume-sources.js";

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
  /** The volume backends this node opens volumes through (agent/volume-sources.ts); none by default. */
  volumeBackends?: readonly VolumeBackend[];
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
  private readonly reports: StatusReporter;
  private readonly removal: RemovalContext;
  /** VMs whose last reconcile failed: re-checked on every resync until one succeeds. */
  private readonly dirty = new Set<string>();
  private resyncs = 0;
  private readonly monitors: HealthMonitors;
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
    this.reports = new StatusReporter({
      nodeId: opts.nodeId,
      store: opts.store,
      clock: opts.clock,
      logger: this.log,
      eventKeys: this.eventKeys,
      revision: (name) => this.revision(name),
    });
    this.monitors = new HealthMonitors({
      clock: opts.clock,
      prober: opts.prober,
      driver: opts.driver,
      logger: this.log,
      onChange: (name, startedAt, state) =>
        void this.queue.run(name, () => this.onHealth(name, startedAt, state)),
    });
    this.removal = { ...opts, logger: this.log, eventKeys: this.eventKeys, reports: this.reports };
    // A failing store is not hammered: the informer waits 1 s, 2 s, ... up to 30 s between attempts.
    this.vms = new Informer<Assignment>({
      store: opts.store,
      clock: opts.clock,
      logger: this.log,
      collection: assignmentCollection(opts.nodeId),
      onReset: () => this.reloaded(),
      onChange: (name, next) => {
        if (next) this.reports.accepted(name);
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
    this.monitors.stopAll();
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
    this.monitors.stopAll();
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
    // The statuses of this node's VMs only: assigned here, or found on the host.
    const names = await this.localNames();
    await this.reports.reload(names);
    if (this.adopted) for (const name of names) void this.enqueue(name);
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
    const status = this.reports.get(name);
    if (!status || !this.record(name) || !this.reports.synced(name) || this.dirty.has(name)) return false;
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
        status: this.reports.get(name),
        runtime,
        now: this.opts.clock.now(),
      });
      await this.reports.write(name, plan.status);
      await this.execute(record, plan);
    }
    this.metrics.reconcileSeconds((this.opts.clock.now() - t0) / 1000);
  }

  private async execute(record: VmRecord, plan: Plan): Promise<void> {
    const { name } = record;
    const action = plan.action;
    switch (action.type) {
      case "none":
        this.monitors.ensure(record, plan.status);
        return;
      case "wait":
        this.monitors.stop(name);
        this.wakeAt(name, action.at);
        return;
      case "start":
        if (action.automatic) this.metrics.restarted(name);
        return this.startVm(record, plan.status);
      case "stop": {
        this.monitors.stop(name);
        const method = await this.opts.driver.stop(name, this.opts.stopOptions);
        this.log.info({ vm: name, method, reason: action.reason }, "stopped VM");
        await this.reports.write(name, {
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
      const volumes = spec.volumes?.length
        ? await volumeSources(this.opts.store, this.opts.volumeBackends ?? [], this.opts.nodeId, spec)
        : [];
      // A bridge-mode VM is plugged into the node's bridge through a tap named after its address.
      const options = {
        ...(record.address === undefined ? {} : { bridge: bridgeAttachment(record.address) }),
        ...(volumes.length > 0 ? { volumes } : {}),
      };
      const started = await driver.start(name, spec, Object.keys(options).length > 0 ? options : undefined);
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
      await this.reports.write(name, status);
      if (noCheck) this.metrics.ready(name, 0);
      this.log.info({ vm: name, pid: started.pid }, "started VM");
      this.monitors.ensure(record, status);
    } catch (err) {
      if (err instanceof StaleRecordError) throw err;
      this.log.warn({ vm: name, err: errorMessage(err) }, "VM failed to start");
      const plan = scheduleRestart(
        starting,
        record,
        this.opts.clock.now(),
        `start failed: ${errorMessage(err)}`,
      );
      await this.reports.write(name, plan.status);
      if (plan.action.type === "wait") this.wakeAt(name, plan.action.at);
    }
  }

  private async onHealth(name: string, startedAt: number, state: HealthTracker): Promise<void> {
    const status = this.reports.get(name);
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
      await this.reports.write(name, next);
      return;
    }
    // An unhealthy VM is restarted like a crashed one: stop it, then start again after the backoff.
    this.monitors.stop(name);
    await this.reports.write(name, {
      ...next,
      phase: "Stopping",
      message: "health check failing; restarting",
    });
    await this.opts.driver.stop(name, this.opts.stopOptions);
    const plan = scheduleRestart(next, record, this.opts.clock.now(), "health check failed");
    await this.reports.write(name, plan.status);
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

  /** Reports an assignment this agent will not act on (status reporter), and stops watching its health. */
  private async reportRefused(name: string, problem: string): Promise<void> {
    this.monitors.stop(name);
    await this.reports.refuse(
      name,
      problem,
      async () => (await this.opts.driver.inspect(name)).state === "running",
    );
  }

  private async removeVm(record: VmRecord): Promise<void> {
    this.monitors.stop(record.name);
    const revision = await removeDeletedVm(this.removal, record);
    this.vms.observeDelete(keys.assignment(this.opts.nodeId, record.name), revision);
  }

  private async removeOrphan(name: string): Promise<void> {
    this.monitors.stop(name);
    await fenceOffOrphan(this.removal, name);
  }
}
