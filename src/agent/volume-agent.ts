/**
 * A node's volume loop: it follows the volume records that name this node and does what each asks
 * of the bytes through the volume's backend (ports/volume-backend.ts): a Creating volume is created
 * and marked Available (or Failed, saying why), a Deleting one is removed and then its record, and a
 * snapshot asked for is taken and marked ready. Every record change is a compare-and-swap on the
 * revision acted on, written with its event; a change that lost a race is looked at again when its
 * watch event comes.
 */
import { errorMessage } from "../core/errors.js";
import { EventKeys, type EventType, eventEntry } from "../core/events.js";
import type { VolumeRecord } from "../core/volume.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Store, TxnOp } from "../ports/store.js";
import type { CreateVolumeOptions, VolumeBackend, VolumeLocation } from "../ports/volume-backend.js";
import { volumeCollection } from "../state/collections.js";
import { Informer } from "../state/informer.js";
import { readVolume } from "../state/volume-reads.js";
import { removeVolumeParts, type StoredVolume, updateVolumeParts } from "../state/volume-transactions.js";
import { KeyedQueue } from "./keyed-queue.js";

export interface VolumeAgentOptions {
  nodeId: string;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** The backends this node can use; a volume of another backend is marked Failed, saying so. */
  backends: readonly VolumeBackend[];
}

/** Where a volume's bytes are, for its backend: named by the volume's id, never by its name. */
export function locationOf(record: Pick<VolumeRecord, "backend" | "pool" | "id">): VolumeLocation {
  return {
    backend: record.backend,
    ...(record.pool === undefined ? {} : { pool: record.pool }),
    image: record.id,
  };
}

export class VolumeAgent {
  private readonly informer: Informer<VolumeRecord>;
  private readonly queue: KeyedQueue;
  private readonly eventKeys: EventKeys;
  private readonly log: Logger;

  constructor(private readonly opts: VolumeAgentOptions) {
    this.log = opts.logger.child({ component: "volume-agent" });
    this.eventKeys = new EventKeys(`${opts.nodeId}-volumes`);
    this.queue = new KeyedQueue((name, err) =>
      this.log.warn(
        { volume: name, err: errorMessage(err) },
        "volume work failed; retried at its next change",
      ),
    );
    this.informer = new Informer({
      store: opts.store,
      clock: opts.clock,
      logger: this.log,
      collection: volumeCollection,
      select: (v) => v.node === opts.nodeId,
      onReset: (entries) => {
        for (const name of entries.keys()) this.enqueue(name);
      },
      onChange: (name, next) => {
        if (next) this.enqueue(name);
      },
    });
  }

  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): void {
    this.informer.stop();
  }

  /** Resolves once every queued piece of work has run (tests, an orderly stop). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private enqueue(name: string): void {
    void this.queue.coalesce(name, () => this.reconcile(name));
  }

  private async reconcile(name: string): Promise<void> {
    const read = await readVolume(this.opts.store, name);
    if (!read?.ok || read.volume.record.node !== this.opts.nodeId) return;
    const stored = read.volume;
    const { record } = stored;
    const backend = this.opts.backends.find((b) => b.name === record.backend);
    if (record.phase === "Creating") {
      if (!backend) {
        await this.fail(
          stored,
          `node ${this.opts.nodeId} has no ${record.backend} backend; delete the volume and create it on a node that has`,
        );
        return;
      }
      try {
        await backend.create(locationOf(record), this.createOptions(record));
      } catch (err) {
        await this.fail(stored, errorMessage(err));
        return;
      }
      await this.write(stored, { ...record, phase: "Available", message: "" }, "volume-available", "created");
    } else if (record.phase === "Deleting") {
      await backend?.remove(locationOf(record));
      const event = this.event("volume-deleted", record, "its bytes were removed");
      await this.opts.store.txn(removeVolumeParts(stored, [event]));
      this.log.info({ volume: name }, "deleted volume");
    } else if (record.phase === "Available" && backend) {
      await this.takeSnapshots(stored, backend);
    }
  }

  /** Takes the snapshots asked for, one write for all of them; one that fails is dropped, saying why. */
  private async takeSnapshots(stored: StoredVolume, backend: VolumeBackend): Promise<void> {
    const { record } = stored;
    const asked = record.snapshots.filter((s) => !s.ready);
    if (asked.length === 0) return;
    const failed = new Map<string, string>();
    for (const s of asked) {
      try {
        await backend.snapshot(locationOf(record), s.name);
      } catch (err) {
        failed.set(s.name, errorMessage(err));
      }
    }
    const snapshots = record.snapshots.flatMap((s) => (failed.has(s.name) ? [] : [{ ...s, ready: true }]));
    const events = asked.map((s) =>
      failed.has(s.name)
        ? this.event("volume-failed", record, `snapshot ${s.name} failed: ${failed.get(s.name)}`)
        : this.event("volume-snapshotted", record, `snapshot ${s.name} taken`),
    );
    const message = [...failed].map(([n, why]) => `snapshot ${n} failed: ${why}`).join("; ");
    await this.opts.store.txn(updateVolumeParts(stored, { ...record, snapshots, message }, events));
  }

  private createOptions(record: VolumeRecord): CreateVolumeOptions {
    const from = record.from;
    if (from && "image" in from) return { sizeBytes: record.sizeBytes, fromImage: from.image };
    if (from && "snapshot" in from) {
      return {
        sizeBytes: record.sizeBytes,
        fromSnapshot: { source: locationOf({ ...record, id: from.id }), snapshot: from.snapshot },
      };
    }
    return { sizeBytes: record.sizeBytes };
  }

  private async fail(stored: StoredVolume, why: string): Promise<void> {
    this.log.warn({ volume: stored.record.name, why }, "volume create failed");
    const next: VolumeRecord = { ...stored.record, phase: "Failed", message: why.slice(0, 2000) };
    await this.write(stored, next, "volume-failed", why.slice(0, 2000));
  }

  private async write(stored: StoredVolume, next: VolumeRecord, type: EventType, reason: string) {
    await this.opts.store.txn(updateVolumeParts(stored, next, [this.event(type, next, reason)]));
  }

  private event(type: EventType, record: VolumeRecord, reason: string): TxnOp {
    return eventEntry(this.eventKeys, this.opts.clock.now(), {
      type,
      vm: record.name,
      node: this.opts.nodeId,
      reason: `volume ${record.name}: ${reason}`,
    });
  }
}
