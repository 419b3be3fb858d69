/**
 * The ClusterService handlers: joining, status, leaving and backups. Requests are validated here,
 * once; the daemon supplies what touches etcd, SQLite and the node's own processes.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MemberStatus } from "../core/cluster-member.js";
import { BlixardError } from "../core/errors.js";
import { nameProblem } from "../core/names.js";
import type { ClusterService, JoinTokenInfo } from "../gen/blixard/v1/cluster_pb.js";
import type { JoinTokenRecord, JoinTokens } from "./join-tokens.js";

export type StoreKind = "sqlite" | "etcd-managed" | "etcd-external";

/** A member with its status, as the ClusterService reports it. */
export type MemberView = MemberStatus;

export interface JoinGrant {
  memberId: string;
  initialCluster: string;
  clusterToken: string;
  endpoints: string[];
  namespace: string;
  caCertificate: string;
  caKey: string;
  certificate: string;
}

export interface JoinApplication {
  nodeId: string;
  peerUrl: string;
  csr: string;
  hosts: string[];
}

export interface ClusterServiceDeps {
  nodeId: string;
  storeKind: StoreKind;
  /** Join tokens in the store; undefined on nodes that are not in a managed cluster. */
  joinTokens: JoinTokens | undefined;
  leader(): Promise<string | undefined>;
  members(): Promise<MemberView[]>;
  /** Adds a newcomer's etcd member as a learner; only a node with a managed member can. */
  admit(application: JoinApplication): Promise<JoinGrant>;
  /** Removes this node's member (after the quorum and ownership checks) and stops the node. */
  leave(force: boolean): Promise<{ remaining: number }>;
  backup(): Promise<{ kind: "etcd-snapshot" | "sqlite"; chunks: AsyncIterable<Uint8Array> }>;
}

export function clusterServiceImpl(deps: ClusterServiceDeps): ServiceImpl<typeof ClusterService> {
  return {
    async join(req) {
      const redeemed = deps.joinTokens && req.token !== "" ? await deps.joinTokens.redeem(req.token) : false;
      if (!redeemed) {
        throw new BlixardError(
          "UNAUTHENTICATED",
          "the cluster rejected the join token (unknown, revoked, expired or already used); create one on a " +
            "member with `blixard cluster token create`",
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
      if (!req.csr.includes("BEGIN CERTIFICATE REQUEST") || req.csr.length > 16_384) {
        throw new BlixardError("INVALID_ARGUMENT", "csr: send a PEM certificate request (PKCS#10)", {
          violations: [{ field: "csr", message: "expected a PEM PKCS#10 request" }],
        });
      }
      const badHost = req.hosts.find((h) => !HOST_RE.test(h));
      if (req.hosts.length > 64 || badHost !== undefined) {
        const message =
          badHost === undefined
            ? "more than 64 hosts"
            : `"${badHost.slice(0, 80)}" is not a host name or IP address`;
        throw new BlixardError("INVALID_ARGUMENT", `hosts: ${message}`, {
          violations: [{ field: "hosts", message }],
        });
      }
      try {
        return await deps.admit({ nodeId: req.nodeId, peerUrl: req.peerUrl, csr: req.csr, hosts: req.hosts });
      } catch (err) {
        await redeemed.undo();
        throw err;
      }
    },

    async createJoinToken(req) {
      const tokens = requireTokens(deps);
      const { token, record } = await tokens.create({
        ...(req.ttlSeconds > 0 ? { ttlSeconds: req.ttlSeconds } : {}),
        reusable: req.reusable,
        description: req.description.slice(0, 200),
      });
      return { token, info: info(record) };
    },

    async listJoinTokens() {
      return { tokens: (await requireTokens(deps).list()).map(info) };
    },

    async revokeJoinToken(req) {
      await requireTokens(deps).revoke(req.id);
      return {};
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

/** A DNS name or an IPv4/IPv6 address, as a certificate SAN may carry it. */
const HOST_RE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]{2,45})$/;

function requireTokens(deps: ClusterServiceDeps): JoinTokens {
  if (!deps.joinTokens) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `node ${deps.nodeId} is not in a managed cluster, so nothing can join it; start the first node with --cluster-init`,
    );
  }
  return deps.joinTokens;
}

function info(record: JoinTokenRecord): Omit<JoinTokenInfo, "$typeName"> {
  return {
    id: record.id,
    description: record.description,
    reusable: record.reusable,
    expiresAt: record.expiresAt ?? "",
    createdAt: record.createdAt,
  };
}

function peerUrlProblem(value: string): string | undefined {
  try {
    const url = new URL(value);
    if ((url.protocol === "http:" || url.protocol === "https:") && url.port !== "" && url.pathname === "/") {
      return undefined;
    }
  } catch {}
  return `"${value}" is not an etcd peer URL like https://10.0.0.2:7003`;
}
