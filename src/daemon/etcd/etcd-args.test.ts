import { describe, expect, it } from "vitest";
import { etcdMemberArgs } from "../../store/etcd/etcd-member.js";
import { derivePorts, memberProcessConfig } from "./etcd-args.js";

describe("etcd member argv", () => {
  it("derives client and peer ports from the API port unless given", () => {
    expect(derivePorts(7001)).toEqual({ clientPort: 7002, peerPort: 7003 });
    expect(derivePorts(7001, { client: 2379 })).toEqual({ clientPort: 2379, peerPort: 7003 });
  });

  it("builds the member's flags, with compaction and snapshots configured", () => {
    const config = {
      name: "node-a",
      dataDir: "/var/lib/blixard/etcd",
      host: "::1",
      clientPort: 7002,
      peerPort: 7003,
      initialCluster: "node-a=http://[::1]:7003",
      initialClusterState: "new",
      clusterToken: "blixard-123",
      compactionRetentionHours: 1,
      snapshotCount: 10000,
      tls: { caFile: "/d/pki/ca.crt", certFile: "/d/pki/node.crt", keyFile: "/d/pki/node.key" },
    } as const;
    const processConfig = memberProcessConfig(config, "/var/lib/blixard/run");
    expect(processConfig.logFile).toBe("/var/lib/blixard/run/etcd.log");
    const args = etcdMemberArgs(processConfig);
    const flag = (name: string) => args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
    expect(flag("--listen-client-urls")).toBe("https://[::1]:7002");
    expect(flag("--initial-advertise-peer-urls")).toBe("https://[::1]:7003");
    expect(flag("--initial-cluster-state")).toBe("new");
    expect(flag("--auto-compaction-mode")).toBe("periodic");
    expect(flag("--auto-compaction-retention")).toBe("1h");
    expect(flag("--snapshot-count")).toBe("10000");
  });

  it("requires client certificates on both ports, and puts only file paths on the command line", () => {
    const args = etcdMemberArgs(
      memberProcessConfig(
        {
          name: "a",
          dataDir: "/d/etcd",
          host: "10.0.0.1",
          clientPort: 7002,
          peerPort: 7003,
          initialCluster: "a=https://10.0.0.1:7003",
          initialClusterState: "new",
          clusterToken: "t",
          compactionRetentionHours: 1,
          snapshotCount: 1,
          tls: { caFile: "/d/pki/ca.crt", certFile: "/d/pki/node.crt", keyFile: "/d/pki/node.key" },
        },
        "/d/etcd",
      ),
    );
    expect(args).toContain("--client-cert-auth");
    expect(args).toContain("--peer-client-cert-auth");
    expect(args).toContain("--trusted-ca-file=/d/pki/ca.crt");
    expect(args).toContain("--peer-trusted-ca-file=/d/pki/ca.crt");
    expect(args).toContain("--peer-key-file=/d/pki/node.key");
    expect(args.filter((a) => a.includes("http://"))).toEqual([]);
    expect(args.join(" ")).not.toMatch(/BEGIN/);
  });
});
