/**
 * What the leader's scheduler knows of the cluster: an informer (state/informer.ts) per prefix it
 * reads (VM records, nodes, liveness, statuses, cordons), started when this node is elected and
 * stopped when it is deposed, plus what it derives from the VM records as they change: the load per
 * node (core/cluster-load.ts) and a generation that every change that can make room bumps, so that a
 * VM found unplaceable is tried again only when it may fit.
 */
import { ClusterLoad } from "../core/cluster-load.js";
import type { Cordon, NodeRecord } from "../core/node-record.js";
import type { VmRecord, VmStatus } from "../core/vm-record.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { KeyValue, Store } from "../ports/store.js";
import {
  cordonCollection,
  livenessCollection,
  nodeCollection,
  statusCollection,
  vmCollection,
} from "../state/collections.js";
import { type Entry, Informer, type InformerOptions } from "../state/informer.js";

export interface SchedulerCacheOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Something changed: a watch batch arrived or a list completed. */
  onChange: () => void;
  /** A VM is gone from the cache (deleted, or its record became unreadable). */
  onVmGone: (name: string) => void;
}

export class SchedulerCache {
  /** The same records counted per node, kept with the VMs, so a pass need not re-count every VM. */
  readonly perNode = new ClusterLoad();
  /** Bumped by every change that can make room (nodes, liveness, cordons, VMs leaving a node). */
  capacityGeneration = 0;
  private readonly vms: Informer<VmRecord>;
  private readonly nodes: Informer<NodeRecord>;
  private readonly alive: Informer<true>;
  private readonly statuses: Informer<VmStatus>;
  private readonly cordons: Informer<Cordon>;
  private readonly all: Informer<unknown>[];

  constructor(private readonly opts: SchedulerCacheOptions) {
    const log = opts.logger;
    const base = {
      store: opts.store,
      clock: opts.clock,
      logger: log,
      onBatch: () => opts.onChange(),
      onInvalid: (name: string, problem: string) =>
        log.warn({ name, problem }, "ignoring a store value that cannot be read"),
    } satisfies Partial<InformerOptions<unknown>>;
    const room = () => {
      this.capacityGeneration++;
    };
    // A list after a watch fell behind compaction: what it missed may need a decision now.
    const relisted = () => {
      room();
      opts.onChange();
    };
    this.vms = new Informer({
      ...base,
      collection: vmCollection,
      onReset: (entries) => {
        this.perNode.clear();
        for (const { value } of entries.values()) this.perNode.set(value);
        // A list follows a broken watch or a failed pass, whose missed events may have made room.
        relisted();
      },
      onChange: (name, next, previous) => this.vmChanged(name, next, previous),
    });
    this.nodes = new Informer({ ...base, collection: nodeCollection, onReset: relisted, onChange: room });
    this.alive = new Informer({ ...base, collection: livenessCollection, onReset: relisted, onChange: room });
    this.statuses = new Informer({ ...base, collection: statusCollection, onReset: () => opts.onChange() });
    this.cordons = new Informer({ ...base, collection: cordonCollection, onReset: relisted, onChange: room });
    this.all = [this.vms, this.nodes, this.alive, this.statuses, this.cordons] as Informer<unknown>[];
  }

  /** Lists every prefix (again) and follows it; rejects when a list fails. */
  async load(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.start()));
  }

  /** Forgets everything and stops watching (this node does not lead). */
  unload(): void {
    for (const informer of this.all) informer.stop();
    this.perNode.clear();
  }

  vm(name: string): Entry<VmRecord> | undefined {
    return this.vms.get(name);
  }

  nodeRecords(): Iterable<NodeRecord> {
    return this.nodes.values().values();
  }

  aliveNodes(): ReadonlyMap<string, true> {
    return this.alive.values();
  }

  statusMap(): ReadonlyMap<string, VmStatus> {
    return this.statuses.values();
  }

  cordonMap(): ReadonlyMap<string, Cordon> {
    return this.cordons.values();
  }

  /** The scheduler's own write of a VM record, taken in before its watch event comes. */
  wroteVm(kv: KeyValue): void {
    this.vms.observe(kv);
  }

  /** The scheduler's own delete of a VM record, at its revision. */
  deletedVm(key: string, revision: number): void {
    this.vms.observeDelete(key, revision);
  }

  private vmChanged(
    name: string,
    next: Entry<VmRecord> | undefined,
    previous: Entry<VmRecord> | undefined,
  ): void {
    const before = previous?.value;
    if (!next) {
      if (before?.node) this.capacityGeneration++;
      this.perNode.delete(name);
      this.opts.onVmGone(name);
      return;
    }
    const record = next.value;
    // A VM leaving a node, or asking for less, may make room for a Pending one.
    if (before && before.node !== "" && (before.node !== record.node || record.deleting))
      this.capacityGeneration++;
    this.perNode.set(record);
  }
}
