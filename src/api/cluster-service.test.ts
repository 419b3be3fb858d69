import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { parseJoinToken } from "../core/join-token.js";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { SeededRandom } from "../sim/seeded-random.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import {
  type ClusterServiceDeps,
  clusterServiceImpl,
  type JoinApplication,
  type MemberView,
} from "./cluster-service.js";
import { withErrorMapping } from "./error-mapping.js";
import { JoinTokens } from "./join-tokens.js";

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

const FINGERPRINT = "ab".repeat(32);
const CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";

function setup(overrides: Partial<ClusterServiceDeps> = {}) {
  const admitted: [string, string][] = [];
  const clock = new ManualClock();
  const tokens = new JoinTokens(new MemoryStore({ clock }), clock, new SeededRandom(7), () => FINGERPRINT);
  let failAdmit = false;
  const deps: ClusterServiceDeps = {
    nodeId: "node-a",
    storeKind: "etcd-managed",
    joinTokens: tokens,
    leader: async () => "node-b",
    members: async () => [
      member("node-a", { leader: true }),
      member("node-b", { error: "connection refused" }),
    ],
    admit: async ({ nodeId, peerUrl }: JoinApplication) => {
      if (failAdmit) {
        const { BlixardError } = await import("../core/errors.js");
        throw new BlixardError("UNAVAILABLE", "another node is joining right now; try again in a moment");
      }
      admitted.push([nodeId, peerUrl]);
      return {
        memberId: "abc",
        initialCluster: "x=y",
        clusterToken: "t",
        endpoints: ["e"],
        namespace: "",
        caCertificate: "ca",
        caKey: "key",
        certificate: "cert",
      };
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
  return { client, admitted, clock, failAdmit: (on: boolean) => (failAdmit = on) };
}

const join = {
  token: "",
  nodeId: "node-c",
  peerUrl: "https://127.0.0.1:7013",
  csr: CSR,
  hosts: ["10.0.0.3"],
};

/** The secret part a joiner sends: `<id>.<secret>` from a K10 token. */
async function secretOf(
  client: ReturnType<typeof setup>["client"],
  options: { ttlSeconds?: number; reusable?: boolean } = {},
) {
  const { token, info } = await client.createJoinToken({
    ttlSeconds: 0,
    reusable: false,
    description: "",
    ...options,
  });
  const parsed = parseJoinToken(token);
  expect(parsed.caFingerprint).toBe(FINGERPRINT);
  return { presented: `${parsed.id}.${parsed.secret}`, id: info?.id ?? "" };
}

describe("ClusterService", () => {
  it("admits a newcomer that presents a join token, which is then spent", async () => {
    const { client, admitted } = setup();
    const { presented } = await secretOf(client);
    const grant = await client.join({ ...join, token: presented });
    expect(grant).toMatchObject({ memberId: "abc", certificate: "cert", caCertificate: "ca" });
    expect(admitted).toEqual([["node-c", "https://127.0.0.1:7013"]]);
    // Replaying a one-time token (e.g. one read from a log) is refused.
    await expect(client.join({ ...join, nodeId: "node-d", token: presented })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    expect(admitted).toHaveLength(1);
  });

  it("rejects a wrong, missing, guessed, expired or revoked token before touching the cluster", async () => {
    const { client, admitted, clock } = setup();
    const { presented, id } = await secretOf(client, { reusable: true });
    const expiring = await secretOf(client, { ttlSeconds: 60 });
    const revoked = await secretOf(client, { reusable: true });
    await client.revokeJoinToken({ id: revoked.id });
    clock.advance(61_000);
    const wrongSecret = `${id}.${"0".repeat(48)}`;
    for (const token of ["wrong", "", wrongSecret, expiring.presented, revoked.presented]) {
      const err = await client.join({ ...join, token }).catch((e: unknown) => ConnectError.from(e));
      expect(err).toMatchObject({ code: Code.Unauthenticated });
      expect((err as ConnectError).rawMessage).toMatch(/rejected the join token/);
    }
    expect(admitted).toEqual([]);
    // The reusable one still works, and the list shows it but not the expired or revoked ones.
    await client.join({ ...join, token: presented });
    expect((await client.listJoinTokens({})).tokens.map((t) => t.id)).toEqual([id]);
  });

  it("gives a one-time token back when the cluster cannot admit the joiner right now", async () => {
    const setupResult = setup();
    const { presented } = await secretOf(setupResult.client);
    setupResult.failAdmit(true);
    await expect(setupResult.client.join({ ...join, token: presented })).rejects.toMatchObject({
      code: Code.Unavailable,
    });
    setupResult.failAdmit(false);
    await setupResult.client.join({ ...join, token: presented });
    expect(setupResult.admitted).toHaveLength(1);
  });

  it.each([
    [{ nodeId: "Node_C" }, /node_id: must be a DNS label/],
    [{ peerUrl: "127.0.0.1:7013" }, /peer_url: .* is not an etcd peer URL/],
    [{ peerUrl: "http://127.0.0.1" }, /peer_url/],
    [{ peerUrl: "ftp://h:1" }, /peer_url/],
    [{ csr: "not a csr" }, /csr:/],
    [{ hosts: ["evil\u0000.example"] }, /hosts: .* is not a host name/],
    [{ hosts: Array.from({ length: 65 }, (_, i) => `h${i}.example`) }, /hosts: more than 64/],
  ])("validates %j, naming the field", async (bad, message) => {
    const { client, admitted } = setup();
    const { presented } = await secretOf(client, { reusable: true });
    await expect(client.join({ ...join, token: presented, ...bad })).rejects.toThrow(message);
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
