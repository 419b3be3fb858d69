/**
 * Services in the store: the record under keys.service(name), its virtual address claimed under
 * keys.addressClaim(ip) and its host port (if any) under keys.portClaim, all created in one
 * transaction with its event and deleted in one. The transaction's create-if-absent compares decide
 * every race: two creates of one name, two services drawing one address, a VM and a service wanting
 * one host port.
 */
import { BlixardError } from "../core/errors.js";
import { EventKeys, eventEntry } from "../core/events.js";
import { keys, nameFromKey } from "../core/keys.js";
import { serviceSubnetOf } from "../core/service-network.js";
import {
  decodeServiceRecord,
  encodeServiceRecord,
  portClaimHolder,
  type ServiceRecord,
  serviceClaimHolder,
} from "../core/service-record.js";
import type { ServiceSpec } from "../core/service-spec.js";
import type { Clock } from "../ports/clock.js";
import type { Random } from "../ports/random.js";
import type { Compare, KeyValue, Store, TxnOp } from "../ports/store.js";
import { AddressPool, claimAddressParts } from "../state/address-pool.js";

/** Random draws before a scan of the claims: in a range half full, 4 draws all collide 1 time in 16. */
const RANDOM_ATTEMPTS = 4;
/** Scans after the random draws: each one loses only to a create that raced it. */
const SCAN_ATTEMPTS = 4;
/** A full service range's error names it and says what frees an address. */
const SERVICE_RANGE = { range: "the service range", fix: "delete services you no longer need" };

export class ServiceRepository {
  private readonly eventKeys: EventKeys;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly random: Random,
    writer = "api",
  ) {
    this.eventKeys = new EventKeys(writer);
  }

  async create(spec: ServiceSpec, actor?: string): Promise<ServiceRecord> {
    const subnet = serviceSubnetOf((await this.store.get(keys.network))?.value);
    const pool = new AddressPool(this.store, subnet.cidr, this.random, SERVICE_RANGE);
    const tried = new Set<string>();
    for (let attempt = 0; attempt < RANDOM_ATTEMPTS + SCAN_ATTEMPTS; attempt++) {
      // Random draws skip the addresses this create already lost; a scan skips every claimed one.
      const [address] = await pool.candidates(1, tried, attempt >= RANDOM_ATTEMPTS);
      tried.add(address!);
      const record: ServiceRecord = {
        name: spec.name,
        spec,
        address: address!,
        createdAt: new Date(this.clock.now()).toISOString(),
      };
      const result = await this.store.txn({
        confirmQuorum: true,
        ...createParts(record, this.event(record, "service-created", actor)),
      });
      if (result.succeeded) return record;
      await this.refuseTakenNameOrPort(spec);
      // Only the address was taken (by a VM, a node's bridge or another service): draw again.
    }
    throw new BlixardError("CONFLICT", "the service addresses changed concurrently; retry the request");
  }

  async get(name: string): Promise<ServiceRecord> {
    const kv = await this.store.get(keys.service(name));
    if (!kv) throw notFound(name);
    return decoded(kv);
  }

  /** Every readable service; one that cannot be read is left out (`service get` says why). */
  async list(): Promise<ServiceRecord[]> {
    const { kvs } = await this.store.range(keys.servicesPrefix);
    return kvs.flatMap((kv) => {
      const result = decodeServiceRecord(nameFromKey(keys.servicesPrefix, kv.key), kv.value);
      return result.ok ? [result.value] : [];
    });
  }

  /**
   * Deletes the service with its claims. A record that cannot be read goes too (it holds claims
   * only if a valid one was overwritten, and those are not known; they are left, never guessed).
   */
  async delete(name: string, actor?: string): Promise<void> {
    const kv = await this.store.get(keys.service(name));
    if (!kv) throw notFound(name);
    const result = decodeServiceRecord(name, kv.value);
    const claims = result.ok ? claimKeys(result.value) : [];
    const event = this.event({ name }, "service-deleted", actor);
    const txn = await this.store.txn({
      confirmQuorum: true,
      compare: [{ key: kv.key, target: "modRevision", op: "=", value: kv.modRevision }],
      success: [
        { type: "delete", key: kv.key },
        ...claims.map((key) => ({ type: "delete" as const, key })),
        event,
      ],
    });
    if (!txn.succeeded) {
      throw new BlixardError("CONFLICT", `service "${name}" changed meanwhile; retry the request`);
    }
  }

  private event(
    record: { name: string; address?: string },
    type: "service-created" | "service-deleted",
    actor?: string,
  ): TxnOp {
    return eventEntry(this.eventKeys, this.clock.now(), {
      type,
      vm: record.name,
      node: "",
      reason:
        type === "service-created"
          ? `service ${record.name} at ${record.address}`
          : `service ${record.name} deleted`,
      ...(actor === undefined ? {} : { actor }),
    });
  }

  /** After a failed create: ALREADY_EXISTS for the name, FAILED_PRECONDITION for the host port. */
  private async refuseTakenNameOrPort(spec: ServiceSpec): Promise<void> {
    if (await this.store.get(keys.service(spec.name))) {
      throw new BlixardError(
        "ALREADY_EXISTS",
        `service "${spec.name}" already exists; choose another name or delete it first with: blixard service delete ${spec.name}`,
      );
    }
    if (spec.hostPort === undefined) return;
    const owner = await this.store.get(keys.portClaim(spec.protocol, spec.hostPort));
    if (!owner) return;
    const message = `host port ${spec.hostPort}/${spec.protocol} is already ${portClaimHolder(owner.value)}; pick another port`;
    throw new BlixardError("FAILED_PRECONDITION", `spec.hostPort: ${message}`, {
      violations: [{ field: "spec.hostPort", message }],
    });
  }
}

/** The claim keys a service holds: its address, and its host port when it has one. */
export function claimKeys(record: ServiceRecord): string[] {
  const { hostPort, protocol } = record.spec;
  return [
    keys.addressClaim(record.address),
    ...(hostPort === undefined ? [] : [keys.portClaim(protocol, hostPort)]),
  ];
}

/**
 * Creating a service: its name, its address and its host port must all be free. The address is
 * claimed as the pool claims every cluster address; the host port claim holds the same holder value.
 */
export function createParts(record: ServiceRecord, event: TxnOp): { compare: Compare[]; success: TxnOp[] } {
  const address = claimAddressParts(record.address, { service: record.name });
  const { hostPort, protocol } = record.spec;
  const port = hostPort === undefined ? [] : [keys.portClaim(protocol, hostPort)];
  const absent = (key: string): Compare => ({ key, target: "createRevision", op: "=", value: 0 });
  return {
    compare: [absent(keys.service(record.name)), address.compare, ...port.map(absent)],
    success: [
      { type: "put", key: keys.service(record.name), value: encodeServiceRecord(record) },
      address.put,
      ...port.map((key) => ({ type: "put" as const, key, value: serviceClaimHolder(record.name) })),
      event,
    ],
  };
}

function decoded(kv: KeyValue): ServiceRecord {
  const name = nameFromKey(keys.servicesPrefix, kv.key);
  const result = decodeServiceRecord(name, kv.value);
  if (result.ok) return result.value;
  throw new BlixardError(
    "FAILED_PRECONDITION",
    `the stored record of service "${name}" is not one the API could have written (${result.problem.slice(0, 2000)}); nothing serves it. Remove it with: blixard service delete ${name}`,
  );
}

function notFound(name: string): BlixardError {
  return new BlixardError(
    "NOT_FOUND",
    `service "${name}" not found; list services with: blixard service list`,
  );
}
