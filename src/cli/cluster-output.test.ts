import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EtcdMemberSchema, GetClusterStatusResponseSchema } from "../gen/blixard/v1/cluster_pb.js";
import { NodeSchema } from "../gen/blixard/v1/node_pb.js";
import {
  backupMessage,
  clusterJson,
  clusterTable,
  formatBytes,
  leaveMessage,
  memberStatus,
  memberTable,
} from "./cluster-output.js";

const member = (fields: Parameters<typeof create<typeof EtcdMemberSchema>>[1]) =>
  create(EtcdMemberSchema, {
    id: "8e9e05c52164694d",
    name: "node-a",
    peerUrls: ["http://10.0.0.1:7003"],
    clientUrls: ["http://10.0.0.1:7002"],
    started: true,
    raftTerm: 3n,
    raftIndex: 1234n,
    dbSizeBytes: 25n * 1024n * 1024n,
    version: "3.5.17",
    ...fields,
  });

const node = create(NodeSchema, {
  id: "node-a",
  state: "Ready",
  leader: true,
  apiUrl: "http://10.0.0.1:7001",
  capacity: { vcpus: 4, memoryMib: 8192, drivers: ["qemu"] },
});

describe("memberStatus", () => {
  it("names each state, with the error of an unreachable member", () => {
    expect(memberStatus(member({ leader: true }))).toBe("leader");
    expect(memberStatus(member({}))).toBe("follower");
    expect(memberStatus(member({ learner: true }))).toBe("learner");
    expect(memberStatus(member({ started: false, error: "connection refused" }))).toBe("unstarted");
    expect(memberStatus(member({ leader: true, error: "context deadline exceeded" }))).toBe(
      "unreachable: context deadline exceeded",
    );
  });

  it("shows raft numbers only for members that answered", () => {
    const lines = memberTable([
      member({ leader: true }),
      member({ name: "node-b", id: "2", error: "connection refused" }),
    ]).split("\n");
    expect(lines[0]).toMatch(
      /^NAME\s+ID\s+STATUS\s+PEER URL\s+CLIENT URL\s+RAFT TERM\s+RAFT INDEX\s+DB SIZE\s+VERSION$/,
    );
    expect(lines[1]).toMatch(
      /^node-a\s+8e9e05c52164694d\s+leader\s+http:\S+7003\s+http:\S+7002\s+3\s+1234\s+25 MiB\s+3\.5\.17$/,
    );
    expect(lines[2]).toMatch(/^node-b\s+2\s+unreachable: connection refused\s+\S+\s+\S+\s+-\s+-\s+-\s+-$/);
  });
});

describe("clusterJson", () => {
  it("prints store, leader, answering node, nodes and members", () => {
    const status = create(GetClusterStatusResponseSchema, {
      store: "etcd-managed",
      leader: "node-a",
      nodeId: "node-b",
      members: [member({ leader: true }), member({ name: "node-c", started: false })],
    });
    const json = clusterJson(status, [node]);
    expect(Object.keys(json)).toEqual(["store", "leader", "answeredBy", "nodes", "members"]);
    expect(json).toMatchObject({
      store: "etcd-managed",
      leader: "node-a",
      answeredBy: "node-b",
      nodes: [{ id: "node-a", state: "Ready", leader: true, capacity: { vcpus: 4, memoryMiB: 8192 } }],
      members: [
        {
          name: "node-a",
          status: "leader",
          raftTerm: 3,
          raftIndex: 1234,
          dbSizeBytes: 26214400,
          error: null,
        },
        { name: "node-c", status: "unstarted", raftTerm: null, version: null },
      ],
    });
    // bigints would make JSON.stringify throw.
    expect(() => JSON.stringify(json)).not.toThrow();
  });

  it("reports no leader as null", () => {
    const status = create(GetClusterStatusResponseSchema, { store: "sqlite", nodeId: "solo" });
    expect(clusterJson(status, [])).toMatchObject({ store: "sqlite", leader: null, members: [] });
  });
});

describe("clusterTable", () => {
  it("says a SQLite node has no etcd members", () => {
    const status = create(GetClusterStatusResponseSchema, {
      store: "sqlite",
      leader: "node-a",
      nodeId: "node-a",
    });
    const text = clusterTable(status, [node]);
    expect(text).toMatch(/^Store:\s+sqlite\nBlixard leader: node-a\n/);
    expect(text).toContain("\nNODES\nID ");
    expect(text).toMatch(/ETCD MEMBERS\n.*single-node on SQLite/);
  });
});

describe("messages", () => {
  it("formats byte sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3n * 1024n ** 3n)).toBe("3.0 GiB");
  });

  it("gives the restore command for each backup kind", () => {
    expect(backupMessage("etcd-snapshot", 2048, "snap.db")).toBe(
      "wrote etcd-snapshot backup of 2.0 KiB to snap.db; restore with: blixard node --cluster-init --restore snap.db --data-dir <new dir>\n",
    );
    expect(backupMessage("sqlite", 10, "my backup.db")).toContain(
      "restore with: blixard node --restore 'my backup.db' --data-dir <new dir>",
    );
  });

  it("tells a node that left how to rejoin", () => {
    expect(leaveMessage("node-b", 2)).toBe(
      "node node-b left the cluster; 2 voting members remain. To rejoin: blixard node --join <another node's address> --token <token> --data-dir <same dir>\n",
    );
  });
});
