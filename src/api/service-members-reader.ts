/**
 * Reads the current members of services for the API's answers (`service get|list`): one range of VM
 * records, placements and statuses each, decoded through their collections, then the pure rule of
 * core/service-members.ts, the same one every node's proxy applies.
 */
import { nameFromKey } from "../core/keys.js";
import { type ServiceMember, serviceMembers } from "../core/service-members.js";
import type { Placement, VmRecord, VmStatus } from "../core/vm-record.js";
import type { Store } from "../ports/store.js";
import {
  type Collection,
  placementCollection,
  statusCollection,
  vmCollection,
} from "../state/collections.js";

export type MembersOf = (service: { group: string; targetPort: number }) => ServiceMember[];

/** A snapshot of the VMs, read once, to find the members of any number of services. */
export async function readMembers(store: Store): Promise<MembersOf> {
  const [vms, placements, statuses] = await Promise.all([
    readAll(store, vmCollection),
    readAll(store, placementCollection),
    readAll(store, statusCollection),
  ]);
  const sources = {
    vms: [...vms.values()] as VmRecord[],
    statuses: statuses as ReadonlyMap<string, VmStatus>,
    placements: placements as ReadonlyMap<string, Placement>,
  };
  return (service) => serviceMembers(service, sources);
}

async function readAll<T>(store: Store, collection: Collection<T>): Promise<Map<string, T>> {
  const { kvs } = await store.range(collection.prefix);
  const values = new Map<string, T>();
  for (const kv of kvs) {
    const name = nameFromKey(collection.prefix, kv.key);
    const decoded = collection.decode(name, kv);
    if (decoded.ok) values.set(name, decoded.value);
  }
  return values;
}
