/**
 * Resource accounting: what each node may hand out to VMs (its capacity less the host reservation,
 * times the overcommit ratios), what the VMs assigned to it ask for, and the placement candidates
 * built from both. Pure: the API, the scheduler and the simulator all count the same way.
 */
import { DEFAULT_ALLOWANCE, type NodeView } from "./node-record.js";
import { allocatable, type Resources } from "./placement.js";
import type { VmRecord } from "./vm-record.js";

export interface NodeUsage {
  allocatable: Resources;
  allocated: Resources;
  free: Resources;
  vms: number;
}

/** Sums what the VMs assigned to each node ask for; VMs being deleted still hold theirs until gone. */
export function allocationsByNode(vms: Iterable<VmRecord>): Map<string, Resources & { vms: number }> {
  const byNode = new Map<string, Resources & { vms: number }>();
  for (const vm of vms) {
    if (vm.node === "") continue;
    const entry = byNode.get(vm.node) ?? { vcpus: 0, memoryMiB: 0, vms: 0 };
    entry.vcpus += vm.spec.vcpus;
    entry.memoryMiB += vm.spec.memory;
    entry.vms += 1;
    byNode.set(vm.node, entry);
  }
  return byNode;
}

export function nodeAllocatable(view: NodeView): Resources {
  const allowance = view.allowance ?? DEFAULT_ALLOWANCE;
  return allocatable(view.capacity, allowance.reserved, allowance.overcommit);
}

export function nodeUsage(view: NodeView, allocations: Map<string, Resources & { vms: number }>): NodeUsage {
  const total = nodeAllocatable(view);
  const used = allocations.get(view.id) ?? { vcpus: 0, memoryMiB: 0, vms: 0 };
  return {
    allocatable: total,
    allocated: { vcpus: used.vcpus, memoryMiB: used.memoryMiB },
    free: { vcpus: total.vcpus - used.vcpus, memoryMiB: total.memoryMiB - used.memoryMiB },
    vms: used.vms,
  };
}
