import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { type ClusterServiceDeps, clusterServiceImpl, type MemberView } from "./cluster-service.js";
import { withErrorMapping } from "./error-mapping.js";

const member = (name: string, extra: Partial<MemberView> = {}): MemberView => ({
  id: `${name}-id`,
  name,
  peerUrls: [`http://127.0.0.1:1${name.length}`],
  clientUrls: [],
  learner: false,
  started: true,
  leader: false,
  raftTerm: 2,
  raftIndex: 40,
  dbSizeBytes: 20480,
  version: "3.4.23",
  ...extra,
});

function setup(overrides: Partial<ClusterServiceDeps> = {}) {
  const admitted: [string, string][] = [];
  const deps: ClusterServiceDeps = {
    nodeId: "node-a",
    storeKind: "etcd-managed",
    checkToken: (given) => given === "the-right-token-123",
    leader: async () => "node-b",
    members: async () => [
      member("node-a", { leader: true }),
      member("node-b", { error: "connection refused" }),
    ],
    admit: async (nodeId, peerUrl) => {
      admitted.push([nodeId, peerUrl]);
      return { memberId: "abc", initialCluster: "x=y", clusterToken: "t", endpoints: ["e"], namespace: "" };
    },
    leave: async () => ({ remaining: 2 }),
    backup: async () => ({
      kind: "sqlite",
      chunks: (async function* () {
        yield new Uint8Array([1, 2]);
        yield new Uint8Array([3]);
      })(),
    }),
    ...overrides,
  };
  const client = createClient(
    ClusterService,
    createRouterTransport((r) => r.service(ClusterService, withErrorMapping(clusterServiceImpl(deps)))),
  );
  return { client, admitted };
}

const join = { token: "the-right-token-123", nodeId: "node-c", peerUrl: "http://127.0.0.1:7013" };

describe("ClusterService", () => {
  it("admits a newcomer that presents the cluster token", async () => {
    const { client, admitted } = setup();
    const grant = await client.join(join);
    expect(grant.memberId).toBe("abc");
    expect(admitted).toEqual([["node-c", "http://127.0.0.1:7013"]]);
  });

  it("rejects a wrong or missing token before touching the cluster", async () => {
    const { client, admitted } = setup();
    for (const token of ["wrong", ""]) {
      const err = await client.join({ ...join, token }).catch((e: unknown) => ConnectError.from(e));
      expect(err).toMatchObject({ code: Code.Unauthenticated });
      expect((err as ConnectError).rawMessage).toMatch(
        /rejected the join token; use the token of a member node/,
      );
    }
    expect(admitted).toEqual([]);
  });

  it.each([
    [{ nodeId: "Node_C" }, /node_id: must be a DNS label/],
    [{ peerUrl: "127.0.0.1:7013" }, /peer_url: .* is not an etcd peer URL/],
    [{ peerUrl: "http://127.0.0.1" }, /peer_url/],
    [{ peerUrl: "ftp://h:1" }, /peer_url/],
  ])("validates %j, naming the field", async (bad, message) => {
    const { client, admitted } = setup();
    await expect(client.join({ ...join, ...bad })).rejects.toThrow(message);
    expect(admitted).toEqual([]);
  });

  it("reports members with raft figures, unreachable ones with their error, and the leader", async () => {
    const { client } = setup();
    const status = await client.getClusterStatus({});
    expect(status).toMatchObject({ store: "etcd-managed", leader: "node-b", nodeId: "node-a" });
    expect(status.members.map((m) => [m.name, m.leader, m.raftTerm, m.error])).toEqual([
      ["node-a", true, 2n, ""],
      ["node-b", false, 2n, "connection refused"],
    ]);
  });

  it("streams a backup with its kind on the first chunk", async () => {
    const { client } = setup();
    const chunks = [];
    for await (const chunk of client.backup({})) chunks.push(chunk);
    expect(chunks.map((c) => [c.kind, [...c.data]])).toEqual([
      ["sqlite", [1, 2]],
      ["", [3]],
    ]);
  });

  it("passes a refused leave on as the node's error", async () => {
    const { client } = setup({
      leave: async () => {
        const { BlixardError } = await import("../core/errors.js");
        throw new BlixardError("FAILED_PRECONDITION", "cannot leave: quorum");
      },
    });
    await expect(client.leave({ force: false })).rejects.toMatchObject({ code: Code.FailedPrecondition });
  });
});
