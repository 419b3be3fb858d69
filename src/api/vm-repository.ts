/**
 * Desired-state reads and writes for VMs. Every update is a compare-and-swap on the record's
 * mod revision, retried on conflict, so concurrent requests never lose each other's changes.
 */
import { BlixardError, type FieldViolation, isBlixardError } from "../core/errors.js";
import { EventKeys, eventEntry } from "../core/events.js";
import { keys, nameFromKey } from "../core/keys.js";
import { portClaimHolder } from "../core/service-record.js";
import { placementCodec, vmStatusCodec } from "../core/store-codecs.js";
import {
  initialStatus,
  type Placement,
  type ScheduledVm,
  scheduledVm,
  type VmRecord,
  type VmStatus,
  type VmView,
} from "../core/vm-record.js";
import { decodeVmRecord, encodeVmRecord } from "../core/vm-record-codec.js";
import type { Clock } from "../ports/clock.js";
import type { KeyValue, Store } from "../ports/store.js";
import type { AddressPool } from "../state/address-pool.js";
import { createVmParts } from "../state/vm-transactions.js";
import { claimVolumesParts } from "../state/volume-transactions.js";
import { type SpecUpdateRequest, type SpecUpdateResult, VmUpdater } from "./vm-updater.js";
import { type VolumeClaim, volumeClaims } from "./volume-claims.js";

const MAX_CAS_ATTEMPTS = 20;

export class VmRepository {
  private readonly eventKeys: EventKeys;
  private readonly updater: VmUpdater;

  /**
   * `writer` names this writer in event keys (the node id); events stay unique across writers.
   * `addresses` hands out cluster addresses to bridge-mode VMs; without it they are refused.
   */
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    writer = "api",
    private readonly addresses?: AddressPool,
  ) {
    this.eventKeys = new EventKeys(writer);
    this.updater = new VmUpdater(store, clock, writer);
  }

  /** Replaces the VM's spec (`vm update`, `apply`): see vm-updater.ts. */
  updateSpec(req: SpecUpdateRequest): Promise<SpecUpdateResult> {
    return this.updater.update(req);
  }

  async get(name: string): Promise<VmView> {
    const [vm, placement, status] = await Promise.all([
      this.store.get(keys.vm(name)),
      this.store.get(keys.placement(name)),
      this.store.get(keys.status(name)),
    ]);
    if (!vm) throw notFound(name);
    return toView(scheduledVm(decoded(vm), placementOf(placement)), status);
  }

  async list(): Promise<VmView[]> {
    const [vms, placements, statuses] = await Promise.all([
      this.store.range(keys.vmsPrefix),
      this.store.range(keys.placementsPrefix),
      this.store.range(keys.statusPrefix),
    ]);
    const byName = (prefix: string, kvs: readonly KeyValue[]) =>
      new Map(kvs.map((kv) => [nameFromKey(prefix, kv.key), kv]));
    const statusOf = byName(keys.statusPrefix, statuses.kvs);
    const placementKv = byName(keys.placementsPrefix, placements.kvs);
    // An invalid record has no spec to show; `vm get NAME` says what is wrong with it.
    return vms.kvs.flatMap((kv) => {
      const result = decodeVmRecord(nameFromKey(keys.vmsPrefix, kv.key), kv.value);
      if (!result.ok) return [];
      const { record } = result;
      return [
        toView(scheduledVm(record, placementOf(placementKv.get(record.name))), statusOf.get(record.name)),
      ];
    });
  }

  /**
   * Removes a record that no valid API call could have written, with its status: it cannot be marked
   * for deletion like a valid one (the agent acts on no invalid record). False when the record is valid.
   */
  async purgeInvalid(name: string): Promise<boolean> {
    const kv = await this.store.get(keys.vm(name));
    if (!kv) throw notFound(name);
    const result = decodeVmRecord(name, kv.value);
    if (result.ok) return false;
    // A record tampered with after it was placed: its node's assignment goes too, and its agent stops
    // the VM it no longer has an assignment for.
    const node = placementOf(await this.store.get(keys.placement(name)))?.node;
    const txn = await this.store.txn({
      compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
      success: [
        { type: "delete", key: kv.key },
        { type: "delete", key: keys.status(name) },
        { type: "delete", key: keys.placement(name) },
        ...(node ? [{ type: "delete" as const, key: keys.assignment(node, name) }] : []),
        eventEntry(this.eventKeys, this.clock.now(), {
          type: "deleted",
          vm: name,
          node: "",
          reason: "removed a record no valid API call could have written",
        }),
      ],
    });
    if (!txn.succeeded)
      throw new BlixardError("CONFLICT", `VM "${name}" changed meanwhile; retry the request`);
    return true;
  }

  /**
   * Creates the record only if no VM of that name exists and no other VM forwards one of its host
   * ports. The port claims are keys written in the same transaction, so the check is atomic and costs
   * one key per port however many VMs exist.
   */
  async create(record: VmRecord, actor?: string): Promise<VmView> {
    const [view] = await this.createAll([record], actor);
    return view!;
  }

  /**
   * Creates all the records or none: one transaction checks that no name exists and no forwarded
   * port is claimed, for every record (a replica group is created whole). `actor` names who asked
   * (a token name), for the audit trail.
   */
  async createAll(records: readonly VmRecord[], actor?: string): Promise<VmView[]> {
    let addressed = await this.withAddresses(records, new Set(), false);
    for (let attempt = 1; ; attempt++) {
      // Read again at every attempt: a claim that lost a race is refused here, naming the holder.
      const claims = await volumeClaims(this.store, addressed);
      addressed = addressed.map((r) => withVolumeNode(r, claims));
      const parts = this.createParts(addressed, actor, claims);
      const result = await this.store.txn({ confirmQuorum: true, ...parts });
      if (result.succeeded) return addressed.map((r) => toView(scheduledVm(r, undefined), undefined));
      for (const record of addressed) {
        const conflict = await this.createConflict(record);
        if (conflict.code === "ALREADY_EXISTS" || (conflict.violations?.length ?? 0) > 0) throw conflict;
      }
      // Another create took one of the drawn addresses first: draw those again (from a scan after
      // the first collision), keeping the ones still free.
      const drawn = addressed.flatMap((r) => (r.address === undefined ? [] : [r.address]));
      const taken = new Set(drawn.length > 0 && this.addresses ? await this.addresses.taken(drawn) : []);
      if (attempt >= MAX_CAS_ATTEMPTS) {
        throw new BlixardError("CONFLICT", "the VMs changed concurrently; retry the request");
      }
      // Nothing of ours was taken but the transaction failed: a volume it claims changed; read again.
      if (taken.size === 0 && claims.length > 0) continue;
      if (taken.size === 0) {
        throw new BlixardError("CONFLICT", "the VMs changed concurrently; retry the request");
      }
      addressed = await this.withAddresses(
        addressed.map((r) => (r.address !== undefined && taken.has(r.address) ? withoutAddress(r) : r)),
        taken,
        true,
      );
    }
  }

  private createParts(records: readonly VmRecord[], actor: string | undefined, claims: VolumeClaim[]) {
    const { compare, success } = claimVolumesParts(claims);
    for (const claim of claims) {
      for (const a of claim.added) {
        success.push(
          eventEntry(this.eventKeys, this.clock.now(), {
            type: "volume-attached",
            vm: a.vm,
            node: claim.volume.record.backend === "local" ? claim.volume.record.node : "",
            reason: `attached volume ${claim.volume.record.name}${a.readOnly ? " read-only" : " read-write"}`,
            ...(actor === undefined ? {} : { actor }),
          }),
        );
      }
    }
    for (const record of records) {
      const at = record.address === undefined ? "" : ` at ${record.address}`;
      const event = eventEntry(this.eventKeys, this.clock.now(), {
        type: "created",
        vm: record.name,
        node: "",
        reason: `${record.desiredState === "running" ? "created to run" : "created stopped"}${record.group ? ` in group ${record.group}` : ""}${at}`,
        ...(actor === undefined ? {} : { actor }),
      });
      const parts = createVmParts(record, event);
      compare.push(...parts.compare);
      success.push(...parts.success);
    }
    return { compare, success };
  }

  /** The records, each bridge-mode one without an address given a candidate not in `avoid`. */
  private async withAddresses(
    records: readonly VmRecord[],
    avoid: ReadonlySet<string>,
    scan: boolean,
  ): Promise<VmRecord[]> {
    const needing = records.filter((r) => r.spec.network === "bridge" && r.address === undefined);
    if (needing.length === 0) return [...records];
    if (!this.addresses) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        'this node hands out no cluster addresses, so it cannot create a VM in bridge mode; use network = "user"',
      );
    }
    const held = new Set([...avoid, ...records.flatMap((r) => (r.address === undefined ? [] : [r.address]))]);
    const fresh = await this.addresses.candidates(needing.length, held, scan);
    return records.map((r) => (needing.includes(r) ? { ...r, address: fresh[needing.indexOf(r)]! } : r));
  }

  /** Says which part of a failed create was taken: the name, or which forwarded ports. */
  private async createConflict(record: VmRecord): Promise<BlixardError> {
    if (await this.store.get(keys.vm(record.name))) {
      return new BlixardError(
        "ALREADY_EXISTS",
        `VM "${record.name}" already exists; choose another name or delete it first with: blixard vm delete ${record.name}`,
      );
    }
    const violations: FieldViolation[] = [];
    for (const [i, f] of record.spec.forwards.entries()) {
      const owner = await this.store.get(keys.portClaim(f.protocol, f.host));
      if (owner) {
        violations.push({
          field: `spec.forwards.${i}.host`,
          message: `host port ${f.host}/${f.protocol} is already ${portClaimHolder(owner.value)}; pick another port`,
        });
      }
    }
    const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
    return new BlixardError("FAILED_PRECONDITION", summary || "the VM changed concurrently; retry", {
      violations,
    });
  }

  /**
   * Applies `change` to the current record atomically; `change` may throw to refuse. With `request`,
   * a "requested" event naming the actor is written in the same transaction (the audit trail).
   */
  async update(
    name: string,
    change: (record: VmRecord) => VmRecord,
    request?: { actor: string | undefined; reason: string },
  ): Promise<VmView> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const [kv, placement] = await Promise.all([
        this.store.get(keys.vm(name)),
        this.store.get(keys.placement(name)),
      ]);
      if (!kv) throw notFound(name);
      const current = decoded(kv);
      const next = change(current);
      const audit = request
        ? [
            eventEntry(this.eventKeys, this.clock.now(), {
              type: "requested",
              vm: name,
              node: placementOf(placement)?.node ?? "",
              reason: request.reason,
              ...(request.actor === undefined ? {} : { actor: request.actor }),
            }),
          ]
        : [];
      const result = await this.store.txn({
        confirmQuorum: true,
        compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
        success: [{ type: "put", key: kv.key, value: encodeVmRecord(next) }, ...audit],
      });
      if (!result.succeeded) continue;
      // The VM may already be gone again: a stopped VM marked for deletion is removed within
      // milliseconds. The write succeeded, so answer with what was written, not NOT_FOUND.
      return this.get(name).catch((err: unknown) => {
        if (isBlixardError(err, "NOT_FOUND")) return toView(scheduledVm(next, undefined), undefined);
        throw err;
      });
    }
    throw new BlixardError("CONFLICT", `VM "${name}" is being changed concurrently; retry the request`);
  }
}

/** A stored placement; one that cannot be read counts as none (the scheduler reports and rewrites it). */
function placementOf(kv: KeyValue | undefined): Placement | undefined {
  if (!kv) return undefined;
  const decoded = placementCodec.decode(kv.value);
  return decoded.ok ? decoded.value : undefined;
}

function viewOf(record: VmRecord): Omit<VmView, "status"> {
  return {
    name: record.name,
    spec: record.spec,
    desiredState: record.desiredState,
    deleting: record.deleting,
    createdAt: record.createdAt,
    ...(record.group === undefined ? {} : { group: record.group }),
    ...(record.address === undefined ? {} : { address: record.address }),
  };
}

/** A stored status, or the initial one (saying why) when the stored value cannot be read. */
function storedStatus(record: ScheduledVm, kv: KeyValue): VmStatus {
  const decoded = vmStatusCodec.decode(kv.value);
  if (decoded.ok) return decoded.value;
  return {
    ...initialStatus(record.node, record.createdAt, record.restartNonce),
    message: `the stored status cannot be read (${decoded.problem}); the node's agent rewrites it`,
  };
}

function toView(record: ScheduledVm, status: KeyValue | VmStatus | undefined): VmView {
  const observed: VmStatus =
    status === undefined
      ? initialStatus(record.node, record.createdAt, record.restartNonce)
      : "value" in status
        ? storedStatus(record, status)
        : status;
  if (observed.node === record.node && record.node !== "") return { ...viewOf(record), status: observed };
  // Not placed yet, or placed on a node whose agent has not reported yet: its status is not news.
  const pending = initialStatus(record.node, observed.updatedAt, record.restartNonce);
  const message =
    record.node === ""
      ? (record.unschedulable ?? "waiting for the scheduler to place it")
      : `placed on ${record.node}; waiting for its agent`;
  return { ...viewOf(record), status: { ...pending, restarts: observed.restarts, message } };
}

/** The record under `kv`, or FAILED_PRECONDITION saying what is wrong with it and how to clear it. */
function decoded(kv: KeyValue): VmRecord {
  const name = nameFromKey(keys.vmsPrefix, kv.key);
  const result = decodeVmRecord(name, kv.value);
  if (result.ok) return result.record;
  throw new BlixardError(
    "FAILED_PRECONDITION",
    `the stored record of VM "${name}" is not one the API could have written (${result.problem.slice(0, 2000)}); nothing acts on it. Remove it with: blixard vm delete ${name}`,
  );
}

/** The record tied to the node of the local volume it claims, if any (the scheduler reads it). */
function withVolumeNode(record: VmRecord, claims: readonly VolumeClaim[]): VmRecord {
  const local = claims.find(
    (c) => c.volume.record.backend === "local" && c.added.some((a) => a.vm === record.name),
  );
  if (!local) return record;
  return { ...record, volumeNode: { volume: local.volume.record.name, node: local.volume.record.node } };
}

function withoutAddress(record: VmRecord): VmRecord {
  const { address: _, ...rest } = record;
  return rest;
}

function notFound(name: string): BlixardError {
  return new BlixardError("NOT_FOUND", `VM "${name}" not found; list VMs with: blixard vm list`);
}
