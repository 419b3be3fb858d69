/** The NodeService handlers: membership as registered in the store, with the current leader marked. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { allocationsByNode, type NodeUsage, nodeUsage } from "../core/allocation.js";
import { BlixardError } from "../core/errors.js";
import { keys, nameFromKey } from "../core/keys.js";
import { type NodeRecord, type NodeView, nodeViews } from "../core/node-record.js";
import type { Resources } from "../core/placement.js";
import type { VmRecord } from "../core/vm-record.js";
import { type Node, NodeSchema, type NodeService } from "../gen/blixard/v1/node_pb.js";
import type { Store } from "../ports/store.js";

export async function listNodes(store: Store): Promise<NodeView[]> {
  const [records, alive] = await Promise.all([store.range(keys.nodesPrefix), store.range(keys.alivePrefix)]);
  return nodeViews(
    records.kvs.map((kv) => JSON.parse(kv.value) as NodeRecord),
    new Set(alive.kvs.map((kv) => nameFromKey(keys.alivePrefix, kv.key))),
  );
}

function nodeToProto(view: NodeView, usage: NodeUsage, leader: string | undefined): Node {
  const resources = (r: Resources) => ({ vcpus: r.vcpus, memoryMib: r.memoryMiB });
  return create(NodeSchema, {
    allocatable: resources(usage.allocatable),
    allocated: resources(usage.allocated),
    free: resources(usage.free),
    vms: usage.vms,
    id: view.id,
    apiUrl: view.apiUrl,
    labels: view.labels,
    capacity: {
      vcpus: view.capacity.vcpus,
      memoryMib: view.capacity.memoryMiB,
      drivers: view.capacity.drivers,
    },
    state: view.state,
    startedAt: view.startedAt,
    leader: view.id === leader,
  });
}

export interface NodeServiceDeps {
  store: Store;
  /** The id of the node that leads now, if any. */
  leader: () => Promise<string | undefined>;
}

export function nodeServiceImpl(deps: NodeServiceDeps): ServiceImpl<typeof NodeService> {
  const snapshot = async () => {
    const [views, vms, leader] = await Promise.all([
      listNodes(deps.store),
      deps.store.range(keys.vmsPrefix),
      deps.leader(),
    ]);
    const allocations = allocationsByNode(vms.kvs.map((kv) => JSON.parse(kv.value) as VmRecord));
    return { views, leader, usage: (view: NodeView) => nodeUsage(view, allocations) };
  };
  return {
    async listNodes() {
      const { views, leader, usage } = await snapshot();
      return { nodes: views.map((v) => nodeToProto(v, usage(v), leader)) };
    },
    async getNode(req) {
      const { views, leader, usage } = await snapshot();
      const view = views.find((v) => v.id === req.id);
      if (!view) {
        throw new BlixardError("NOT_FOUND", `node "${req.id}" not found; list nodes with: blixard node list`);
      }
      return { node: nodeToProto(view, usage(view), leader) };
    },
  };
}
