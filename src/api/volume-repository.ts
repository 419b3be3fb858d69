/**
 * Volumes in the store: create, read, delete, snapshot and clone as transactions on the volume's
 * record (state/volume-transactions.ts). The API only writes desired state: the node named in the
 * record (the volume's own node for `local`) creates, snapshots and removes the bytes, and moves the
 * phase on (agent/volume-agent.ts). Every change is written with its event.
 */
import { BlixardError } from "../core/errors.js";
import { EventKeys, type EventType, eventEntry } from "../core/events.js";
import { keys } from "../core/keys.js";
import { nodeRecordCodec } from "../core/store-codecs.js";
import { type VolumeRecord, type VolumeView, volumeRecordCodec, volumeState } from "../core/volume.js";
import type { Clock } from "../ports/clock.js";
import type { Random } from "../ports/random.js";
import type { Store, TxnOp } from "../ports/store.js";
import { liveAttachments, readVolume } from "../state/volume-reads.js";
import { createVolumeParts, type StoredVolume, updateVolumeParts } from "../state/volume-transactions.js";

const MAX_CAS_ATTEMPTS = 20;

export interface VolumeCreate {
  name: string;
  sizeBytes: number;
  backend: "local" | "rbd";
  pool?: string;
  /** The node that creates the bytes (local: where they live); the API's own node by default. */
  node?: string;
  /** A host path (admin only, checked at the edge). */
  fromImage?: string;
}

export class VolumeRepository {
  private readonly eventKeys: EventKeys;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly nodeId: string,
  ) {
    this.eventKeys = new EventKeys(nodeId);
  }

  async create(req: VolumeCreate, actor?: string): Promise<VolumeView> {
    const node = req.node ?? this.nodeId;
    await this.refuseUnfit(node, req);
    const record: VolumeRecord = {
      name: req.name,
      id: `vol-${this.random.hex(8)}`,
      backend: req.backend,
      ...(req.pool === undefined ? {} : { pool: req.pool }),
      sizeBytes: req.sizeBytes,
      node,
      phase: "Creating",
      message: "",
      ...(req.fromImage === undefined ? {} : { from: { image: req.fromImage } }),
      attachments: [],
      snapshots: [],
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    return this.insert(record, `created ${sizeText(record.sizeBytes)} on ${req.backend}`, actor);
  }

  /** A new volume whose bytes start as `source`'s snapshot `snapshot`: same backend, pool and node. */
  async clone(source: string, snapshot: string, name: string, actor?: string): Promise<VolumeView> {
    const { record: src } = await this.mustRead(source);
    const snap = src.snapshots.find((s) => s.name === snapshot);
    if (!snap?.ready) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        snap
          ? `snapshot ${source}@${snapshot} is not taken yet; retry once blixard volume get ${source} lists it as ready`
          : `volume ${source} has no snapshot ${snapshot}; take one with: blixard volume snapshot ${source} ${snapshot}`,
      );
    }
    const record: VolumeRecord = {
      ...src,
      name,
      id: `vol-${this.random.hex(8)}`,
      phase: "Creating",
      message: "",
      from: { volume: src.name, id: src.id, snapshot },
      attachments: [],
      snapshots: [],
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    await this.refuseUnfit(record.node, record);
    return this.insert(record, `cloned from ${source}@${snapshot}`, actor);
  }

  async get(name: string): Promise<VolumeView> {
    return this.view(await this.mustRead(name));
  }

  async list(): Promise<VolumeView[]> {
    const { kvs } = await this.store.range(keys.volumesPrefix);
    const stored = kvs.flatMap((kv) => {
      const decoded = volumeRecordCodec.decode(kv.value);
      return decoded.ok ? [{ record: decoded.value, kv }] : [];
    });
    return Promise.all(stored.map((s) => this.view(s)));
  }

  /**
   * Marks the volume Deleting, for its node to remove the bytes and then the record. Refused, naming
   * the VMs, while any VM holds it. Deleting one already Deleting changes nothing.
   */
  async delete(name: string, actor?: string): Promise<VolumeView> {
    return this.change(name, actor, "volume-deleting", async (stored) => {
      if (stored.record.phase === "Deleting") return undefined;
      const live = await liveAttachments(this.store, stored);
      if (live.length > 0) {
        const vms = live.map((a) => `${a.vm}${a.node ? ` on ${a.node}` : ""}`).join(", ");
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `volume ${name} is attached to VM ${vms}; delete the VM first (blixard vm delete ${live[0]!.vm})`,
        );
      }
      return { next: { ...stored.record, phase: "Deleting", attachments: [] }, reason: "deleting" };
    });
  }

  /** Asks the volume's node to take snapshot `snapshot`; it shows as ready once taken. */
  async snapshot(name: string, snapshot: string, actor?: string): Promise<VolumeView> {
    return this.change(name, actor, "volume-snapshotted", async ({ record }) => {
      if (record.phase !== "Available") {
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `volume ${name} is ${record.phase}; a snapshot needs it Available`,
        );
      }
      if (record.snapshots.some((s) => s.name === snapshot)) {
        throw new BlixardError(
          "ALREADY_EXISTS",
          `volume ${name} already has a snapshot ${snapshot}; choose another snapshot name`,
        );
      }
      const at = new Date(this.clock.now()).toISOString();
      return {
        next: {
          ...record,
          snapshots: [...record.snapshots, { name: snapshot, ready: false, createdAt: at }],
        },
        reason: `snapshot ${snapshot} requested`,
      };
    });
  }

  private async insert(record: VolumeRecord, reason: string, actor?: string): Promise<VolumeView> {
    const txn = await this.store.txn({
      confirmQuorum: true,
      ...createVolumeParts(record, [this.event("volume-created", record, reason, actor)]),
    });
    if (!txn.succeeded) {
      throw new BlixardError(
        "ALREADY_EXISTS",
        `volume ${record.name} already exists; choose another name or delete it first with: blixard volume delete ${record.name}`,
      );
    }
    return { ...record, state: record.phase };
  }

  /** A compare-and-swap of the record, retried on conflict; `decide` may refuse (throw) or do nothing. */
  private async change(
    name: string,
    actor: string | undefined,
    type: EventType,
    decide: (stored: StoredVolume) => Promise<{ next: VolumeRecord; reason: string } | undefined>,
  ): Promise<VolumeView> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const stored = await this.mustRead(name);
      const decision = await decide(stored);
      if (!decision) return this.view(stored);
      const event = this.event(type, decision.next, decision.reason, actor);
      const txn = await this.store.txn({
        confirmQuorum: true,
        ...updateVolumeParts(stored, decision.next, [event]),
      });
      if (txn.succeeded) return { ...decision.next, state: decision.next.phase };
    }
    throw new BlixardError("CONFLICT", `volume ${name} is being changed concurrently; retry the request`);
  }

  /** Local volumes live on one node: it must exist, and its free volume space must hold them all. */
  private async refuseUnfit(node: string, req: { backend: string; sizeBytes: number }): Promise<void> {
    if (req.backend !== "local") return;
    const kv = await this.store.get(keys.node(node));
    const decoded = kv ? nodeRecordCodec.decode(kv.value) : undefined;
    if (!decoded?.ok) {
      throw new BlixardError(
        "INVALID_ARGUMENT",
        `node: no node ${node} is registered; pick one from blixard node list`,
        { violations: [{ field: "node", message: `no node ${node}; pick one from blixard node list` }] },
      );
    }
    const free = decoded.value.capacity.volumeBytes;
    if (free === undefined) return;
    const used = (await this.list())
      .filter((v) => v.backend === "local" && v.node === node && v.phase !== "Deleting")
      .reduce((sum, v) => sum + v.sizeBytes, 0);
    if (used + req.sizeBytes > free) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `size: node ${node} has ${sizeText(Math.max(0, free - used))} left for volumes, less than ${sizeText(req.sizeBytes)}; pick a smaller size or another node (--node)`,
        { violations: [{ field: "size", message: `does not fit on node ${node}` }] },
      );
    }
  }

  private async mustRead(name: string): Promise<StoredVolume> {
    const read = await readVolume(this.store, name);
    if (!read) {
      throw new BlixardError("NOT_FOUND", `volume ${name} not found; list volumes with: blixard volume list`);
    }
    if (!read.ok) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `the stored record of volume ${name} cannot be read (${read.problem.slice(0, 500)})`,
      );
    }
    return read.volume;
  }

  private async view(stored: StoredVolume): Promise<VolumeView> {
    const live = await liveAttachments(this.store, stored);
    return { ...stored.record, attachments: live, state: volumeState(stored.record, live) };
  }

  private event(type: EventType, record: VolumeRecord, reason: string, actor?: string): TxnOp {
    return eventEntry(this.eventKeys, this.clock.now(), {
      type,
      vm: record.name,
      node: record.node,
      reason: `volume ${record.name}: ${reason}`,
      ...(actor === undefined ? {} : { actor }),
    });
  }
}

export function sizeText(bytes: number): string {
  for (const [unit, size] of [
    ["TiB", 1024 ** 4],
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
  ] as const) {
    if (bytes >= size && bytes % (size / 1024) === 0) return `${+(bytes / size).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
