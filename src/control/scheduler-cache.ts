/**
 * What the leader's scheduler knows of the cluster: an informer (state/informer.ts) per prefix it
 * reads (VM records, placements, nodes, liveness, cordons), started when this node is
 * elected and stopped when it is deposed, plus what it derives from them as they change: each VM
 * joined with its placement, the load per node (core/cluster-load.ts), the placed VMs whose record
 * changed since their node's assignment copied it, and a generation that every change that can make
 * room bumps, so that a VM found unplaceable is tried again only when it may fit.
 *
 * The scheduler is the only writer of placements and takes its own writes in at once, and a deposed
 * leader's writes are fenced off, so after a (re)load the placements do not move under the cache.
 */
import { ClusterLoad } from "../core/cluster-load.js";
import { keys } from "../core/keys.js";
import type { Cordon, NodeRecord } from "../core/node-record.js";
import {
  type Placement,
  resourcesOf,
  type ScheduledVm,
  scheduledVm,
  type VmRecord,
  type VmStatus,
} from "../core/vm-record.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { KeyValue, Store } from "../ports/store.js";
import {
  cordonCollection,
  livenessCollection,
  nodeCollection,
  placementCollection,
  vmCollection,
} from "../state/collections.js";
import { type Entry, Informer, type InformerOptions } from "../state/informer.js";
import { readStatus } from "../state/statuses.js";

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
  /** Placed VMs whose node's assignment copies an older revision of their record. */
  readonly stale = new Set<string>();
  private readonly vms: Informer<VmRecord>;
  private readonly placements: Informer<Placement>;
  private readonly nodes: Informer<NodeRecord>;
  private readonly alive: Informer<true>;
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
    // A list follows a broken watch or a failed pass, whose missed events may have made room.
    const rejoin = () => {
      this.rejoinAll();
      relisted();
    };
    this.vms = new Informer({
      ...base,
      collection: vmCollection,
      onReset: rejoin,
      onChange: (name) => this.rejoin(name),
    });
    this.placements = new Informer({
      ...base,
      collection: placementCollection,
      onReset: rejoin,
      onChange: (name) => this.rejoin(name),
    });
    this.nodes = new Informer({ ...base, collection: nodeCollection, onReset: relisted, onChange: room });
    this.alive = new Informer({ ...base, collection: livenessCollection, onReset: relisted, onChange: room });
    this.cordons = new Informer({ ...base, collection: cordonCollection, onReset: relisted, onChange: room });
    this.all = [this.vms, this.placements, this.nodes, this.alive, this.cordons] as Informer<unknown>[];
  }

  /** Lists every prefix (again) and follows it; rejects when a list fails. */
  async load(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.start()));
  }

  /** Forgets everything and stops watching (this node does not lead). */
  unload(): void {
    for (const informer of this.all) informer.stop();
    this.perNode.clear();
    this.stale.clear();
  }

  vm(name: string): Entry<VmRecord> | undefined {
    return this.vms.get(name);
  }

  /** VM records no valid API call could have written: never placed, reported once by the scheduler. */
  invalidVms(): ReadonlyMap<string, { problem: string; kv: KeyValue }> {
    return this.vms.invalidEntries();
  }

  /** The VM's placement as the store has it (valid or not), or undefined when it has none. */
  placement(name: string): { value: Placement | undefined; kv: KeyValue } | undefined {
    const valid = this.placements.get(name);
    if (valid) return valid;
    const invalid = this.placements.invalidEntries().get(name);
    return invalid ? { value: undefined, kv: invalid.kv } : undefined;
  }

  nodeRecords(): Iterable<NodeRecord> {
    return this.nodes.values().values();
  }

  aliveNodes(): ReadonlyMap<string, true> {
    return this.alive.values();
  }

  /**
   * The status reports of the VMs a drain took off a node that are not yet placed again: what says
   * whether that node has stopped them. Read when needed rather than watched: every status change of
   * every VM would otherwise be sent to the leader (they are most of the store's writes), for the
   * sake of the few VMs being handed off. A pass runs every second, so a hand-off waits at most that
   * long longer. A report that cannot be read counts as none.
   */
  async handoffStatuses(): Promise<Map<string, VmStatus>> {
    const waiting = [...this.perNode.unassigned()].filter((vm) => vm.handoffFrom !== undefined);
    const read = await Promise.all(waiting.map((vm) => readStatus(this.opts.store, vm.name)));
    const out = new Map<string, VmStatus>();
    for (const [i, vm] of waiting.entries()) {
      const found = read[i];
      if (found) out.set(vm.name, found.status);
    }
    return out;
  }

  cordonMap(): ReadonlyMap<string, Cordon> {
    return this.cordons.values();
  }

  /** The scheduler's own write of a placement, taken in before its watch event comes. */
  wrotePlacement(kv: KeyValue): void {
    this.placements.observe(kv);
  }

  /** The scheduler's own delete of a VM's record and placement, at its revision. */
  deletedVm(name: string, revision: number): void {
    this.vms.observeDelete(keys.vm(name), revision);
    this.placements.observeDelete(keys.placement(name), revision);
  }

  private rejoinAll(): void {
    this.perNode.clear();
    this.stale.clear();
    for (const name of this.vms.entries().keys()) this.rejoin(name);
  }

  /** Joins the VM's record with its placement again, after either changed. */
  private rejoin(name: string): void {
    const before = this.perNode.get(name);
    const entry = this.vms.get(name);
    if (!entry) {
      if (before?.node) this.capacityGeneration++;
      this.perNode.delete(name);
      this.stale.delete(name);
      this.opts.onVmGone(name);
      return;
    }
    const placement = this.placements.get(name)?.value;
    const vm: ScheduledVm = counted(scheduledVm(entry.value, placement), placement);
    // A VM leaving a node, or asking for less, may make room for a Pending one.
    if (
      before &&
      before.node !== "" &&
      (before.node !== vm.node ||
        vm.deleting ||
        vm.spec.vcpus < before.spec.vcpus ||
        vm.spec.memory < before.spec.memory)
    )
      this.capacityGeneration++;
    this.perNode.set(vm);
    if (
      placement &&
      placement.node !== "" &&
      (placement.recordRevision !== entry.kv.modRevision || resizing(placement, entry.value))
    ) {
      this.stale.add(name);
    } else {
      this.stale.delete(name);
    }
  }
}

/**
 * A placed VM counts on its node with the larger of what its record asks for and what the node may
 * run it with (`Placement.resources`): a grow holds its room at once, so nothing else is placed into
 * it, and a shrink frees room only once the node runs the VM at its new size.
 */
function counted(vm: ScheduledVm, placement: Placement | undefined): ScheduledVm {
  const approved = placement?.resources;
  if (!approved || vm.node === "") return vm;
  const vcpus = Math.max(vm.spec.vcpus, approved.vcpus);
  const memory = Math.max(vm.spec.memory, approved.memoryMiB);
  if (vcpus === vm.spec.vcpus && memory === vm.spec.memory) return vm;
  return { ...vm, spec: { ...vm.spec, vcpus, memory } };
}

/** The record asks for other resources than the node may run the VM with (a resize under way). */
export function resizing(placement: Placement, record: VmRecord): boolean {
  const approved = placement.resources;
  if (!approved) return false;
  const want = resourcesOf(record);
  return want.vcpus !== approved.vcpus || want.memoryMiB !== approved.memoryMiB;
}
