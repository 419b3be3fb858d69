/**
 * The write side of `vm update` and `apply`: replaces a VM's spec in one compare-and-swap transaction
 * (state/vm-transactions.ts's updateVmParts), after the checks that need the store: the VM exists and
 * is not being deleted, no immutable field changes, a grown VM still fits the node it runs on, and every
 * newly forwarded host port is free. A refused or dry-run update writes nothing.
 */
import { BlixardError, type FieldViolation } from "../core/errors.js";
import { EventKeys, eventEntry } from "../core/events.js";
import { keys, nameFromKey } from "../core/keys.js";
import { DEFAULT_ALLOWANCE } from "../core/node-record.js";
import { allocatable } from "../core/placement.js";
import type { Resources } from "../core/placement-types.js";
import { growthProblem, planSpecUpdate, type SpecUpdatePlan, specChanges } from "../core/spec-update.js";
import { nodeRecordCodec, vmStatusCodec } from "../core/store-codecs.js";
import type { VmRecord } from "../core/vm-record.js";
import { decodeVmRecord } from "../core/vm-record-codec.js";
import type { VmSpec } from "../core/vm-spec.js";
import type { Clock } from "../ports/clock.js";
import type { Store } from "../ports/store.js";
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

  /**
   * The node the VM is on: the one its agent last reported it on, else the one it is assigned to and
   * its agent has not reported yet; undefined when it is on none.
   * MERGE (integrator): `record.node` is the assignment today; with assignments in their own keys it
   * becomes the VM's `/placements/<vm>` key.
   */
  private async nodeOf(record: VmRecord): Promise<string | undefined> {
    const kv = await this.store.get(keys.status(record.name));
    const status = kv ? vmStatusCodec.decode(kv.value) : undefined;
    if (status?.ok && status.value.node !== "") return status.value.node;
    return record.node === "" ? undefined : record.node;
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
   * What `node` can still hand out to VM `name`: its allocatable resources less what every other VM on
   * it asks for: those its agent reports there, and those assigned to it that the agent has not
   * started yet (the simulator found a grow admitted next to a VM placed a moment before). Undefined
   * when the node has no readable record.
   * MERGE (integrator): with assignments in their own keys, the VMs on the node are the range
   * `/assignments/<node>/` (each a copy of the record), and neither prefix below needs reading.
   */
  private async freeFor(node: string, name: string): Promise<Resources | undefined> {
    const [nodeKv, statuses, vms] = await Promise.all([
      this.store.get(keys.node(node)),
      this.store.range(keys.statusPrefix),
      this.store.range(keys.vmsPrefix),
    ]);
    const nodeRecord = nodeKv ? nodeRecordCodec.decode(nodeKv.value) : undefined;
    if (!nodeRecord?.ok) return undefined;
    const allowance = nodeRecord.value.allowance ?? DEFAULT_ALLOWANCE;
    const total = allocatable(nodeRecord.value.capacity, allowance.reserved, allowance.overcommit);
    // Only values that mention the node are decoded (the decode decides): the cluster's other VMs cost
    // a substring search each instead of a schema parse.
    const mention = JSON.stringify(node);
    const reported = new Set(
      statuses.kvs.flatMap((kv) => {
        if (!kv.value.includes(mention)) return [];
        const status = vmStatusCodec.decode(kv.value);
        return status.ok && status.value.node === node ? [nameFromKey(keys.statusPrefix, kv.key)] : [];
      }),
    );
    let vcpus = 0;
    let memoryMiB = 0;
    for (const kv of vms.kvs) {
      const other = nameFromKey(keys.vmsPrefix, kv.key);
      if (other === name || (!reported.has(other) && !kv.value.includes(mention))) continue;
      const result = decodeVmRecord(other, kv.value);
      if (!result.ok || (!reported.has(other) && result.record.node !== node)) continue;
      vcpus += result.record.spec.vcpus;
      memoryMiB += result.record.spec.memory;
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
          message: `host port ${f.host}/${f.protocol} is already forwarded by VM "${owner.value}"; pick another port`,
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
