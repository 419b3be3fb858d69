/**
 * The agent's reports of its VMs' statuses: what it last reported for each (the status it plans
 * from), which reports may not have reached the store, and the writes themselves. The agent is the
 * only writer of its VMs' statuses, so its own last status is what it plans from, even when a write
 * failed; a failed write (which may or may not have applied) marks the VM unsynced, and the next
 * write goes through even if nothing changed, so the store never keeps a status the agent has moved
 * past.
 *
 * Every write is conditioned on the VM's assignment being the one the agent acts on (its revision).
 * When it changed meanwhile (the leader moved the VM while this node was cut off, say, and the agent
 * has not seen it yet), nothing is written and StaleRecordError stops the action under way: a node
 * must not overwrite the new owner's status, nor start a VM on the strength of an assignment it has lost.
 */
import { type EventKeys, type EventType, eventEntry, statusEvent } from "../core/events.js";
import { keys } from "../core/keys.js";
import { vmStatusCodec } from "../core/store-codecs.js";
import { initialStatus, type VmStatus } from "../core/vm-record.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Compare, Store, TxnOp } from "../ports/store.js";
import { readStatus } from "../state/statuses.js";
import { StaleRecordError } from "./stale-record-error.js";
import { statusChanged } from "./status-diff.js";

export interface StatusReporterOptions {
  nodeId: string;
  store: Store;
  clock: Clock;
  logger: Logger;
  eventKeys: EventKeys;
  /** The revision of the assignment the agent acts on for the VM, if it has one. */
  revision: (name: string) => number | undefined;
}

export class StatusReporter {
  private readonly statuses = new Map<string, VmStatus>();
  /** VMs whose last status write failed, so the store may hold an older status than `statuses`. */
  private readonly unsynced = new Set<string>();
  /** VMs reported as refused: when a valid assignment replaces theirs, they start afresh. */
  private readonly refused = new Set<string>();

  constructor(private readonly opts: StatusReporterOptions) {}

  /** The status last reported for the VM (the store may not have it yet: `synced`). */
  get(name: string): VmStatus | undefined {
    return this.statuses.get(name);
  }

  synced(name: string): boolean {
    return !this.unsynced.has(name);
  }

  /** A valid assignment replaced a refused one: the refusal was no failure of the VM, it starts afresh. */
  accepted(name: string): void {
    if (this.refused.delete(name)) this.statuses.delete(name);
  }

  /** Reads this node's reports for `names` again (a relist): another node's are not ours. */
  async reload(names: Iterable<string>): Promise<void> {
    const list = [...names];
    // One by one: the cost of a node's start does not grow with the cluster.
    const read = await Promise.all(list.map((name) => this.opts.store.get(keys.status(name))));
    this.statuses.clear();
    for (const [i, name] of list.entries()) {
      const kv = read[i];
      if (!kv) continue;
      const decoded = vmStatusCodec.decode(kv.value);
      if (!decoded.ok) {
        this.opts.logger.warn(
          { vm: name, problem: decoded.problem },
          "ignoring a VM status that cannot be read; the next report rewrites it",
        );
        continue;
      }
      // Only this node's reports: after a failover the key may hold the new owner's.
      if (decoded.value.node === this.opts.nodeId) this.statuses.set(name, decoded.value);
    }
  }

  /** Writes a status unless the store already holds it, with the event its change calls for. */
  async write(name: string, status: VmStatus): Promise<void> {
    const revision = this.opts.revision(name);
    if (revision === undefined) throw new StaleRecordError(name);
    if (!this.unsynced.has(name) && !statusChanged(this.statuses.get(name), status)) return;
    const type = statusEvent(this.statuses.get(name), status);
    await this.put(name, revision, status, type ? this.event(type, name, status.message) : undefined);
  }

  /**
   * Reports an assignment this agent will not act on. A VM already running under an earlier, valid
   * one is left as it is (stopping it on the word of an untrusted record would be an attack of its
   * own); the operator fixes or deletes the record. Written once per distinct problem, not at every
   * resync. False when there is nothing to write.
   */
  async refuse(name: string, problem: string, running: () => Promise<boolean>): Promise<boolean> {
    const message = `refused: the store holds a record for this VM that no valid API call could have written (${problem.slice(0, 2000)}); nothing was started. Delete it with: blixard vm delete ${name}`;
    const previous = this.statuses.get(name);
    if (previous?.message === message && !this.unsynced.has(name)) return false;
    const revision = this.opts.revision(name);
    if (revision === undefined) return false;
    const now = new Date(this.opts.clock.now()).toISOString();
    const up = await running();
    const base = previous ?? initialStatus(this.opts.nodeId, now);
    const status: VmStatus = {
      ...base,
      phase: up ? base.phase : "Failed",
      message,
      nextRestartAt: null,
      updatedAt: now,
    };
    this.opts.logger.error({ vm: name, problem }, "refused an invalid VM record from the store");
    this.refused.add(name);
    await this.put(name, revision, status, this.event("refused", name, message));
    return true;
  }

  /** The VM is gone with its keys (the agent deleted them): nothing of it is reported any more. */
  forget(name: string): void {
    this.statuses.delete(name);
    this.unsynced.delete(name);
  }

  /**
   * Takes back this node's report of a VM it no longer runs. Only its own report: after a failover
   * the key may already hold the new owner's status.
   */
  async withdraw(name: string): Promise<void> {
    if (!this.statuses.has(name)) return;
    // A delete that fails may still have applied (a lost reply): until it is known to be done, the
    // store may hold no status at all, so the next status for this VM must be written whatever it is.
    this.unsynced.add(name);
    const found = await readStatus(this.opts.store, name);
    if (found?.status.node === this.opts.nodeId) {
      const { kv } = found;
      await this.opts.store.txn({
        compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
        success: [{ type: "delete", key: kv.key }],
      });
    }
    this.forget(name);
  }

  private event(type: EventType, vm: string, reason: string): TxnOp {
    return eventEntry(this.opts.eventKeys, this.opts.clock.now(), {
      type,
      vm,
      node: this.opts.nodeId,
      reason,
    });
  }

  private async put(
    name: string,
    revision: number,
    status: VmStatus,
    event: TxnOp | undefined,
  ): Promise<void> {
    this.statuses.set(name, status);
    this.unsynced.add(name);
    const assigned: Compare = {
      key: keys.assignment(this.opts.nodeId, name),
      target: "modRevision",
      op: "=",
      value: revision,
    };
    const result = await this.opts.store.txn({
      compare: [assigned],
      success: [
        { type: "put", key: keys.status(name), value: vmStatusCodec.encode(status) },
        ...(event ? [event] : []),
      ],
    });
    if (!result.succeeded) throw new StaleRecordError(name);
    if (this.statuses.get(name) === status) this.unsynced.delete(name);
  }
}
