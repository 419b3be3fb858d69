/**
 * The write side of `vm update` and `apply`: replaces a VM's spec in one compare-and-swap transaction
 * (state/vm-transactions.ts's updateVmParts), after the checks that need the store: the VM exists and
 * is not being deleted, no immutable field changes, a grown VM still fits the node it runs on, and every
 * newly forwarded host port is free. A refused or dry-run update writes nothing.
 */
import { BlixardError, type FieldViolation } from "../core/errors.js";
import { EventKeys, eventEntry } from "../core/events.js";
import { keys } from "../core/keys.js";
import { DEFAULT_ALLOWANCE } from "../core/node-record.js";
import { allocatable } from "../core/placement.js";
import type { Resources } from "../core/placement-types.js";
import { portClaimHolder } from "../core/service-record.js";
import { growthProblem, planSpecUpdate, type SpecUpdatePlan, specChanges } from "../core/spec-update.js";
import { nodeRecordCodec, placementCodec } from "../core/store-codecs.js";
import type { VmRecord } from "../core/vm-record.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import type { VmSpec } from "../core/vm-spec.js";
import type { Clock } from "../ports/clock.js";
import type { Store } from "../ports/store.js";
import { assignedVms } from "../state/assignments.js";
import { updateVmParts } from "../state/vm-transactions.js";

export interface SpecUpdateRequest {
  spec: VmSpec;
  /** Update only if the current spec is this one: the caller's read-modify-write saw it. */
  expected?: VmSpec;
  dryRun: boolean;
  actor: string | undefined;
}

export interface SpecUpdateResult extends SpecUpdatePlan {
  /** False for a dry run and for an unchanged spec. */
  written: boolean;
}

export class VmUpdater {
  private readonly eventKeys: EventKeys;

  /** `writer` names this writer in event keys (the node id), as VmRepository's does. */
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    writer = "api",
  ) {
    // Its own writer id: VmRepository's EventKeys counts the same writer's events in one ms apart, and
    // two counters under one id could make the same key.
    this.eventKeys = new EventKeys(`${writer}-update`);
  }

  async update(req: SpecUpdateRequest): Promise<SpecUpdateResult> {
    const name = req.spec.name;
    const kv = await this.store.get(keys.vm(name));
    if (!kv)
      throw new BlixardError("NOT_FOUND", `VM "${name}" not found; create it first (apply -f creates it)`);
    const decoded = decodeVmRecord(name, kv.value);
    if (!decoded.ok) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `the stored record of VM "${name}" is not one the API could have written; delete it with: blixard vm delete ${name}`,
      );
    }
    const record = decoded.record;
    if (record.deleting) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `VM "${name}" is being deleted; wait for it to disappear`,
      );
    }
    if (req.expected !== undefined && specChanges(req.expected, record.spec).length > 0) {
      throw new BlixardError(
        "CONFLICT",
        `VM "${name}"'s spec changed since it was read; look at it again (blixard vm get ${name}) and retry the update`,
      );
    }
    const plan = planSpecUpdate(record.spec, req.spec);
    if (plan.changes.length === 0) return { ...plan, written: false };
    if (record.group !== undefined && req.spec.forwards.length > 0) {
      // As at create: the group is scaled by copying a member's spec, and every copy would need the port.
      const message = `VM "${name}" is a member of replica group ${record.group}, whose members cannot forward host ports; drop the forwards`;
      throw new BlixardError("INVALID_ARGUMENT", `spec.forwards: ${message}`, {
        violations: [{ field: "spec.forwards", message }],
      });
    }
    await this.checkFits(record, req.spec);
    await this.checkPorts(record, req.spec);
    if (req.dryRun) return { ...plan, written: false };

    const next: VmRecord = {
      ...record,
      spec: req.spec,
      restartNonce: record.restartNonce + (plan.restart ? 1 : 0),
    };
    const fields = [...new Set(plan.changes.map((c) => c.path.split(".")[0]))].join(", ");
    const event = eventEntry(this.eventKeys, this.clock.now(), {
      type: "updated",
      vm: name,
      node: (await this.nodeOf(record)) ?? "",
      reason: `spec changed: ${fields}${plan.restart ? (record.desiredState === "running" ? "; restarting to apply it" : "; applied at its next start") : ""}`,
      ...(req.actor === undefined ? {} : { actor: req.actor }),
    });
    const txn = await this.store.txn({
      confirmQuorum: true,
      ...updateVmParts({ record, modRevision: kv.modRevision }, next, event),
    });
    if (!txn.succeeded) {
      // A port taken meanwhile is named; anything else is a concurrent change of the record.
      await this.checkPorts(record, req.spec);
      throw new BlixardError(
        "CONFLICT",
        `VM "${name}" changed while it was being updated; look at it again (blixard vm get ${name}) and retry the update`,
      );
    }
    return { ...plan, written: true };
  }

  /** The node the VM is placed on (its placement, written by the leader); undefined when none. */
  private async nodeOf(record: VmRecord): Promise<string | undefined> {
    const kv = await this.store.get(keys.placement(record.name));
    const placement = kv ? placementCodec.decode(kv.value) : undefined;
    return placement?.ok && placement.value.node !== "" ? placement.value.node : undefined;
  }

  /** A VM that grows must still fit the node it is on; an unplaced one just takes the new spec. */
  private async checkFits(record: VmRecord, spec: VmSpec): Promise<void> {
    if (spec.memory <= record.spec.memory && spec.vcpus <= record.spec.vcpus) return;
    const node = await this.nodeOf(record);
    if (node === undefined) return;
    const free = await this.freeFor(node, record.name);
    if (free === undefined) return;
    const violations = growthProblem(node, free, record.spec, spec);
    if (violations.length > 0) throw refusal(violations);
  }

  /**
   * What `node` can still hand out to VM `name`: its allocatable resources less what every other VM
   * assigned to it asks for (one range of the node's assignments, whatever the cluster's size).
   * Undefined when the node has no readable record. The leader's scheduler checks again before the
   * node runs the grown VM (a placement may land on the node between this read and the write).
   */
  private async freeFor(node: string, name: string): Promise<Resources | undefined> {
    const [nodeKv, assigned] = await Promise.all([
      this.store.get(keys.node(node)),
      this.store.range(keys.nodeAssignmentsPrefix(node)),
    ]);
    const nodeRecord = nodeKv ? nodeRecordCodec.decode(nodeKv.value) : undefined;
    if (!nodeRecord?.ok) return undefined;
    const allowance = nodeRecord.value.allowance ?? DEFAULT_ALLOWANCE;
    const total = allocatable(nodeRecord.value.capacity, allowance.reserved, allowance.overcommit);
    let vcpus = 0;
    let memoryMiB = 0;
    for (const vm of assignedVms(assigned.kvs)) {
      if (vm.name === name) continue;
      vcpus += vm.spec.vcpus;
      memoryMiB += vm.spec.memory;
    }
    return { vcpus: total.vcpus - vcpus, memoryMiB: total.memoryMiB - memoryMiB };
  }

  /** Every host port the update newly forwards must not be claimed by another VM. */
  private async checkPorts(record: VmRecord, spec: VmSpec): Promise<void> {
    const held = new Set(record.spec.forwards.map((f) => `${f.protocol}/${f.host}`));
    const violations: FieldViolation[] = [];
    for (const [i, f] of spec.forwards.entries()) {
      if (held.has(`${f.protocol}/${f.host}`)) continue;
      const owner = await this.store.get(keys.portClaim(f.protocol, f.host));
      if (owner && owner.value !== record.name) {
        violations.push({
          field: `spec.forwards.${i}.host`,
          message: `host port ${f.host}/${f.protocol} is already ${portClaimHolder(owner.value)}; pick another port`,
        });
      }
    }
    if (violations.length > 0) throw refusal(violations);
  }
}

function refusal(violations: FieldViolation[]): BlixardError {
  const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
  return new BlixardError("FAILED_PRECONDITION", `update refused: ${summary}`, { violations });
}
