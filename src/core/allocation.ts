/**
 * Resource accounting: what each node may hand out to VMs (its capacity less the host reservation,
 * times the overcommit ratios) and what is left of it once its VMs are counted (core/cluster-load.ts).
 * Pure: the API, the scheduler and the simulator all count the same way.
 */
import { DEFAULT_ALLOWANCE, type NodeView } from "./node-record.js";
import { allocatable, type Resources } from "./placement.js";

export interface NodeUsage {
  allocatable: Resources;
  allocated: Resources;
  free: Resources;
  vms: number;
}

export function nodeAllocatable(view: NodeView): Resources {
  const allowance = view.allowance ?? DEFAULT_ALLOWANCE;
  return allocatable(view.capacity, allowance.reserved, allowance.overcommit);
}

/** `used`: what the node's VMs ask for, as ClusterLoad.used counts it. */
export function nodeUsage(view: NodeView, used: Resources & { vms: number }): NodeUsage {
  const total = nodeAllocatable(view);
  return {
    allocatable: total,
    allocated: { vcpus: used.vcpus, memoryMiB: used.memoryMiB },
    free: { vcpus: total.vcpus - used.vcpus, memoryMiB: total.memoryMiB - used.memoryMiB },
    vms: used.vms,
  };
}
