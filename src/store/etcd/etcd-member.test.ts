import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type EtcdMemberConfig, EtcdMemberProcess, etcdMemberArgs } from "./etcd-member.js";

const config = (dir: string): EtcdMemberConfig => ({
  name: "m0",
  dataDir: join(dir, "m0"),
  clientUrl: "http://127.0.0.1:2379",
  peerUrl: "http://127.0.0.1:2380",
  initialCluster: "m0=http://127.0.0.1:2380",
  initialClusterState: "new",
  initialClusterToken: "t",
  logFile: join(dir, "m0.log"),
});

describe("etcd member", () => {
  it("listens on and advertises the same client and peer URLs, and passes extra flags last", () => {
    const args = etcdMemberArgs({ ...config("/d"), extraArgs: ["--auto-compaction-retention=1h"] });
    expect(args).toEqual(
      expect.arrayContaining([
        "--listen-client-urls=http://127.0.0.1:2379",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster-state=new",
      ]),
    );
    expect(args[args.length - 1]).toBe("--auto-compaction-retention=1h");
  });

  it("says how to install etcd when the binary is missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blixard-etcd-member-"));
    try {
      await expect(
        EtcdMemberProcess.start({ ...config(dir), binary: join(dir, "no-such-etcd") }),
      ).rejects.toMatchObject({
        code: "FAILED_PRECONDITION",
        message: expect.stringMatching(
          /is not installed; install it \(Debian: apt-get install etcd-server\)/,
        ),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
