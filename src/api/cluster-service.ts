/**
 * The ClusterService handlers: joining, status, leaving and backups. Requests are validated here,
 * once; the daemon supplies what touches etcd, SQLite and the node's own processes.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MemberStatus } from "../core/cluster-member.js";
import { BlixardError } from "../core/errors.js";
import { nameProblem } from "../core/names.js";
import type { ClusterService } from "../gen/blixard/v1/cluster_pb.js";

export type StoreKind = "sqlite" | "etcd-managed" | "etcd-external";

/** A member with its status, as the ClusterService reports it. */
export type MemberView = MemberStatus;

export interface JoinGrant {
  memberId: string;
  initialCluster: string;
  clusterToken: string;
  endpoints: string[];
  namespace: string;
}

export interface ClusterServiceDeps {
  nodeId: string;
  storeKind: StoreKind;
  /** Compares a presented cluster token with this node's, in constant time. */
  checkToken(given: string): boolean;
  leader(): Promise<string | undefined>;
  members(): Promise<MemberView[]>;
  /** Adds a newcomer's etcd member as a learner; only a node with a managed member can. */
  admit(nodeId: string, peerUrl: string): Promise<JoinGrant>;
  /** Removes this node's member (after the quorum and ownership checks) and stops the node. */
  leave(force: boolean): Promise<{ remaining: number }>;
  backup(): Promise<{ kind: "etcd-snapshot" | "sqlite"; chunks: AsyncIterable<Uint8Array> }>;
}

export function clusterServiceImpl(deps: ClusterServiceDeps): ServiceImpl<typeof ClusterService> {
  return {
    async join(req) {
      if (req.token === "" || !deps.checkToken(req.token)) {
        throw new BlixardError(
          "UNAUTHENTICATED",
          "the cluster rejected the join token; use the token of a member node (the `token` file in its data dir)",
        );
      }
      const idProblem = nameProblem(req.nodeId);
      if (idProblem) {
        throw new BlixardError("INVALID_ARGUMENT", `node_id: ${idProblem}`, {
          violations: [{ field: "node_id", message: idProblem }],
        });
      }
      const peerProblem = peerUrlProblem(req.peerUrl);
      if (peerProblem) {
        throw new BlixardError("INVALID_ARGUMENT", `peer_url: ${peerProblem}`, {
          violations: [{ field: "peer_url", message: peerProblem }],
        });
      }
      return deps.admit(req.nodeId, req.peerUrl);
    },

    async getClusterStatus() {
      const [members, leader] = await Promise.all([deps.members(), deps.leader()]);
      return {
        store: deps.storeKind,
        members: members.map((m) => ({
          ...m,
          raftTerm: BigInt(m.raftTerm),
          raftIndex: BigInt(m.raftIndex),
          dbSizeBytes: BigInt(m.dbSizeBytes),
          error: m.error ?? "",
        })),
        leader: leader ?? "",
        nodeId: deps.nodeId,
      };
    },

    async leave(req) {
      const { remaining } = await deps.leave(req.force);
      return { nodeId: deps.nodeId, remainingMembers: remaining };
    },

    async *backup() {
      const { kind, chunks } = await deps.backup();
      let first = true;
      for await (const data of chunks) {
        yield { kind: first ? kind : "", data };
        first = false;
      }
      if (first) yield { kind, data: new Uint8Array() };
    },
  };
}

function peerUrlProblem(value: string): string | undefined {
  try {
    const url = new URL(value);
    if ((url.protocol === "http:" || url.protocol === "https:") && url.port !== "" && url.pathname === "/") {
      return undefined;
    }
  } catch {}
  return `"${value}" is not an etcd peer URL like http://10.0.0.2:7003`;
}
