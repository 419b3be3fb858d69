/**
 * Which VMs serve a service right now: the members its nodes load-balance to. Pure, so that the proxy
 * controller, the API and the tests agree on one rule:
 * - the VM belongs to the service's group, is not being deleted and is desired running;
 * - it is in bridge mode (it has a cluster address the nodes can route to);
 * - its node reports it Running, with health `healthy`, or `none` when it has no health check.
 * A report of anything else (unhealthy, starting, failed, stopped) drops the member at once: the
 * controller recomputes on every status change, so a member stops receiving new connections within
 * one health-check interval of failing its check.
 * A status written by a node the VM is no longer placed on (a stale report after a move) does not
 * count: the VM's current node has not vouched for it yet.
 */
import type { Placement, VmRecord, VmStatus } from "./vm-record.js";

export interface ServiceMember {
  vm: string;
  address: string;
  port: number;
}

export interface MemberSources {
  vms: Iterable<VmRecord>;
  statuses: ReadonlyMap<string, VmStatus>;
  /** When given, a status counts only if it comes from the VM's placed node. */
  placements?: ReadonlyMap<string, Placement>;
}

export function serviceMembers(
  service: { group: string; targetPort: number },
  sources: MemberSources,
): ServiceMember[] {
  const members: ServiceMember[] = [];
  for (const vm of sources.vms) {
    if (vm.group !== service.group || vm.deleting || vm.desiredState !== "running") continue;
    if (vm.address === undefined) continue;
    const status = sources.statuses.get(vm.name);
    if (status?.phase !== "Running") continue;
    if (status.health !== "healthy" && status.health !== "none") continue;
    const placement = sources.placements?.get(vm.name);
    if (sources.placements && placement?.node !== status.node) continue;
    members.push({ vm: vm.name, address: vm.address, port: service.targetPort });
  }
  // A stable order, so that an unchanged set of members renders the same rules (nothing to apply).
  return members.sort((a, b) => (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : 0));
}
