/**
 * How a changed record reaches its node (the leader's `copy` write) when the change resizes the VM.
 * A record that grew (a `vm update` of vcpus or memory) is copied whole only when its node has room
 * for the new size: the API checked when it took the update, but the leader may have placed another
 * VM there meanwhile, from a count made before the update. The leader's count (which takes the new
 * size at once, so nothing more is placed there) decides. Without room the rest of the change still
 * goes through (a stop, a delete) at the size the node has, and the grow waits for room. A shrink
 * frees its room only once the node runs the VM at the new size. `Placement.resources` records what
 * the node may run the VM with.
 */
import { nodeAllocatable } from "../core/allocation.js";
import type { ClusterLoad } from "../core/cluster-load.js";
import type { EventType } from "../core/events.js";
import type { NodeView } from "../core/node-record.js";
import { type Placement, resourcesOf, type VmRecord } from "../core/vm-record.js";
import type { Logger } from "../ports/logger.js";
import type { Store, TxnOp } from "../ports/store.js";
import { readStatus } from "../state/statuses.js";

export interface ResizeGateOptions {
  store: Store;
  logger: Logger;
  /** The leader's count of what each node's VMs take. */
  load: ClusterLoad;
  /** The nodes as the current pass sees them. */
  views: () => ReadonlyMap<string, NodeView>;
  event: (type: EventType, vm: string, node: string, reason: string) => TxnOp;
}

export class ResizeGate {
  /** VMs whose grow waits for room on their node (reported once). */
  private readonly waiting = new Set<string>();

  constructor(private readonly opts: ResizeGateOptions) {}

  forget(name: string): void {
    this.waiting.delete(name);
  }

  clear(): void {
    this.waiting.clear();
  }

  /** The placement and the record to write for a changed record; undefined: nothing to write. */
  /**
   * Copies a changed record to its node's assignment. A record that grew (a `vm update` of vcpus or
   * memory) is copied whole only when its node has room for the new size: the API checked when it
   * took the update, but the leader may have placed another VM there meanwhile, from a count made
   * before the update. The leader's count (which takes the new size at once, so nothing more is placed
   * there) is the one that decides. Without room the rest of the change still goes through (a stop, a
   * delete) with the size the node has, and the grow waits for room. Undefined: nothing to write.
   */
  async copy(
    record: VmRecord,
    placement: Placement,
    recordRevision: number,
  ): Promise<{ next: Placement; event?: TxnOp; copy: VmRecord } | undefined> {
    const want = resourcesOf(record);
    const approved = placement.resources ?? want;
    const grows = want.vcpus > approved.vcpus || want.memoryMiB > approved.memoryMiB;
    if (grows && !record.deleting && !this.hasRoom(placement.node))
      return this.holdGrow(record, placement, recordRevision, want, approved);
    this.waiting.delete(record.name);
    // After a shrink the node may run the VM at its old size until it restarts it: the room is
    // counted as taken until then (read from the VM's status at each pass, as for a hand-off).
    const upper = {
      vcpus: Math.max(want.vcpus, approved.vcpus),
      memoryMiB: Math.max(want.memoryMiB, approved.memoryMiB),
    };
    const shrinks = upper.vcpus > want.vcpus || upper.memoryMiB > want.memoryMiB;
    const resources = shrinks && !(await this.runsAtNewSize(record, placement.node)) ? upper : want;
    const same = resources.vcpus === approved.vcpus && resources.memoryMiB === approved.memoryMiB;
    if (placement.recordRevision === recordRevision && same && placement.resources) return undefined;
    return { next: { ...placement, recordRevision, resources }, copy: record };
  }

  /** A grow without room: the rest of the change goes through with the size the node has. */
  private holdGrow(
    record: VmRecord,
    placement: Placement,
    recordRevision: number,
    want: { vcpus: number; memoryMiB: number },
    approved: { vcpus: number; memoryMiB: number },
  ): { next: Placement; event?: TxnOp; copy: VmRecord } | undefined {
    const first = !this.waiting.has(record.name);
    this.waiting.add(record.name);
    if (first)
      this.opts.logger.warn(
        { vm: record.name, node: placement.node },
        "a VM's grow waits for room on its node",
      );
    const event = first
      ? this.opts.event(
          "unschedulable",
          record.name,
          placement.node,
          `the update to ${want.vcpus} vcpus and ${want.memoryMiB} MiB waits for room on node ${placement.node} (another VM was placed there meanwhile); it runs with ${approved.vcpus} vcpus and ${approved.memoryMiB} MiB until then`,
        )
      : undefined;
    if (placement.recordRevision === recordRevision && !event) return undefined;
    const held: VmRecord = {
      ...record,
      spec: { ...record.spec, vcpus: approved.vcpus, memory: approved.memoryMiB },
    };
    return {
      next: { ...placement, recordRevision, resources: approved },
      copy: held,
      ...(event ? { event } : {}),
    };
  }

  /** The node runs the VM at the size its record asks for now: it restarted it since, or runs none. */
  private async runsAtNewSize(record: VmRecord, node: string): Promise<boolean> {
    const status = (await readStatus(this.opts.store, record.name))?.status;
    if (status?.node !== node) return false;
    const { phase, appliedRestartNonce } = status;
    return !["Starting", "Running", "Stopping"].includes(phase) || appliedRestartNonce >= record.restartNonce;
  }

  /** The node can run what the leader's count says its VMs ask for (a node it does not know: yes). */
  private hasRoom(node: string): boolean {
    const view = this.opts.views().get(node);
    if (!view) return true;
    const total = nodeAllocatable(view);
    const used = this.opts.load.used(node);
    return used.vcpus <= total.vcpus && used.memoryMiB <= total.memoryMiB;
  }
}
