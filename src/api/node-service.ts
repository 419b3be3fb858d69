/** The NodeService handlers: membership as registered in the store, with the current leader marked. */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type NodeUsage, nodeUsage } from "../core/allocation.js";
import { ClusterLoad } from "../core/cluster-load.js";
import { BlixardError } from "../core/errors.js";
import { EventKeys, eventEntry } from "../core/events.js";
import { keys, nameFromKey } from "../core/keys.js";
import { type NodeView, nodeViews } from "../core/node-record.js";
import type { Resources } from "../core/placement.js";
import { cordonCodec, decodeAll, nodeRecordCodec } from "../core/store-codecs.js";
import { type Node, NodeSchema, type NodeService } from "../gen/blixard/v1/node_pb.js";
import type { Clock } from "../ports/clock.js";
import type { Store } from "../ports/store.js";
import { assignedVms } from "../state/assignments.js";
import { actorOf } from "./principal-context.js";

export async function listNodes(store: Store): Promise<NodeView[]> {
  const [records, alive, cordons] = await Promise.all([
    store.range(keys.nodesPrefix),
    store.range(keys.alivePrefix),
    store.range(keys.cordonPrefix),
  ]);
  // A record or cordon no node could have written is left out of the list, not half-read.
  const skip = () => {};
  return nodeViews(
    decodeAll(nodeRecordCodec, records.kvs, skip).map((kv) => kv.value),
    new Set(alive.kvs.map((kv) => nameFromKey(keys.alivePrefix, kv.key))),
    new Map(
      decodeAll(cordonCodec, cordons.kvs, skip).map((kv) => [
        nameFromKey(keys.cordonPrefix, kv.key),
        kv.value,
      ]),
    ),
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
      networks: view.capacity.networks ?? ["user"],
      ...(view.capacity.volumeBytes === undefined ? {} : { volumeBytes: BigInt(view.capacity.volumeBytes) }),
    },
    bridgeAddress: view.overlay?.bridgeAddress ?? "",
    vtep: view.overlay?.vtep ?? "",
    state: view.state,
    cordoned: view.cordoned,
    draining: view.draining,
    startedAt: view.startedAt,
    leader: view.id === leader,
    isolation: view.isolation ?? "",
    ...(view.ceph
      ? { ceph: { reachable: view.ceph.reachable, reason: view.ceph.reason ?? "", pool: view.ceph.pool } }
      : {}),
  });
}

export interface NodeServiceDeps {
  store: Store;
  clock: Clock;
  /** Names the writer of the events the API records (`requested`). */
  writer: string;
  /** The id of the node that leads now, if any. */
  leader: () => Promise<string | undefined>;
}

export function nodeServiceImpl(deps: NodeServiceDeps): ServiceImpl<typeof NodeService> {
  const snapshot = async () => {
    const [views, vms, leader] = await Promise.all([
      listNodes(deps.store),
      deps.store.range(keys.assignmentsPrefix),
      deps.leader(),
    ]);
    const load = ClusterLoad.of(assignedVms(vms.kvs));
    return { views, leader, usage: (view: NodeView) => nodeUsage(view, load.used(view.id)) };
  };
  const one = async (id: string) => {
    const { views, leader, usage } = await snapshot();
    const view = views.find((v) => v.id === id);
    if (!view) {
      throw new BlixardError("NOT_FOUND", `node "${id}" not found; list nodes with: blixard node list`);
    }
    return nodeToProto(view, usage(view), leader);
  };
  const eventKeys = new EventKeys(`api-${deps.writer}`);
  /** Writes the cordon; a drain also records who asked (the leader's scheduler then moves the VMs). */
  const cordon = async (id: string, draining: boolean, actor?: string) => {
    await one(id);
    const now = deps.clock.now();
    const value = cordonCodec.encode({ draining, at: new Date(now).toISOString() });
    const requested = draining
      ? [
          eventEntry(eventKeys, now, {
            type: "requested",
            vm: "",
            node: id,
            reason: `drain of ${id} requested`,
            ...(actor === undefined ? {} : { actor }),
          }),
        ]
      : [];
    await deps.store.txn({
      confirmQuorum: true,
      compare: [],
      success: [{ type: "put", key: keys.cordon(id), value }, ...requested],
    });
  };
  return {
    async cordonNode(req) {
      await cordon(req.id, false);
      return { node: await one(req.id) };
    },
    async uncordonNode(req) {
      await one(req.id);
      await deps.store.txn({
        confirmQuorum: true,
        compare: [],
        success: [{ type: "delete", key: keys.cordon(req.id) }],
      });
      return { node: await one(req.id) };
    },
    /**
     * A drain is a cordon that says so: the leader's scheduler takes the node's VMs off (the API
     * writes no placement). The reply names the VMs on the node as the drain began, the ones that will
     * move (one placed there meanwhile is moved too, though not named).
     */
    async drainNode(req, ctx) {
      // Read before the cordon: the leader takes the VMs off as soon as it sees the cordon.
      const assigned = await deps.store.range(keys.nodeAssignmentsPrefix(req.id));
      const moving = assignedVms(assigned.kvs)
        .filter((vm) => !vm.deleting)
        .map((vm) => vm.name);
      await cordon(req.id, true, actorOf(ctx)?.name);
      return { node: await one(req.id), vms: moving };
    },
    async listNodes() {
      const { views, leader, usage } = await snapshot();
      return { nodes: views.map((v) => nodeToProto(v, usage(v), leader)) };
    },
    async getNode(req) {
      return { node: await one(req.id) };
    },
  };
}
