import { describe, expect, it } from "vitest";
import { isLoopback, parseNodeOptions } from "./node-options.js";

describe("node options", () => {
  it("binds to loopback port 7001 by default", () => {
    expect(parseNodeOptions({ dataDir: "/d" })).toMatchObject({
      bind: { host: "127.0.0.1", port: 7001 },
      accel: "auto",
    });
  });

  it("parses IPv6 binds", () => {
    expect(parseNodeOptions({ dataDir: "/d", bind: "[::1]:9000" }).bind).toEqual({ host: "::1", port: 9000 });
  });

  it.each(["7001", "host:", "host:99999", ":7001"])("rejects the bind %j, naming the flag", (bind) => {
    expect(() => parseNodeOptions({ dataDir: "/d", bind })).toThrow(/--bind: .*HOST:PORT/);
  });

  it("uses the embedded SQLite store unless told otherwise", () => {
    expect(parseNodeOptions({ dataDir: "/d" }).store).toEqual({ kind: "sqlite" });
  });

  it("parses an external etcd cluster with an optional key prefix", () => {
    expect(
      parseNodeOptions({ dataDir: "/d", store: "etcd://10.0.0.1:2379,10.0.0.2:2379/blixard" }).store,
    ).toEqual({
      kind: "etcd",
      endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"],
      namespace: "/blixard",
    });
    expect(parseNodeOptions({ dataDir: "/d", store: "etcd+https://10.0.0.1:2379" }).store).toEqual({
      kind: "etcd",
      endpoints: ["https://10.0.0.1:2379"],
      namespace: "",
    });
  });

  it.each(["etcd://", "etcd://host", "mysql://x:1", "etcd://a:1,b"])(
    "rejects the store %j, naming the flag",
    (store) => {
      expect(() => parseNodeOptions({ dataDir: "/d", store })).toThrow(
        /--store: .*etcd\[\+https\]:\/\/HOST:PORT/,
      );
    },
  );

  it("rejects an unknown accel mode", () => {
    expect(() => parseNodeOptions({ dataDir: "/d", accel: "hvf" })).toThrow(/--accel/);
  });

  it.each([
    ["127.0.0.1", true],
    ["127.5.0.1", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["192.168.1.10", false],
    ["::", false],
  ])("treats %s as loopback: %s", (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });

  describe("cluster flags", () => {
    const token = `K10${"ab".repeat(32)}::join:abc123.${"s".repeat(32)}`;

    it("accepts a join address as HOST:PORT or https URL (cluster nodes serve only TLS)", () => {
      expect(parseNodeOptions({ dataDir: "/d", join: "10.0.0.1:7001", token }).join).toBe(
        "https://10.0.0.1:7001",
      );
      expect(() => parseNodeOptions({ dataDir: "/d", join: "http://10.0.0.1:7001", token })).toThrow(
        /--join/,
      );
      expect(parseNodeOptions({ dataDir: "/d", join: "https://n1:7001", token }).join).toBe(
        "https://n1:7001",
      );
    });

    it.each([
      [{ join: "10.0.0.1:7001" }, /--token: joining needs a join token/],
      // The admin credential of the old scheme is not a join token.
      [{ join: "10.0.0.1:7001", token: "0123456789abcdef0123" }, /--token: not a join token/],
      [{ etcdCacert: "/ca.crt", store: "etcd://h:2379" }, /--store: .*etcd\+https/],
      [
        { store: "etcd+https://h:2379", etcdCert: "/c.crt" },
        /--etcd-key: a client certificate needs its key/,
      ],
      [{ clusterInit: true, join: "h:1", token }, /--cluster-init: cannot both start a new cluster and join/],
      [{ join: "h:1", discover: "tailscale", token }, /--discover: give either --join/],
      [{ clusterInit: true, store: "etcd://h:2379" }, /--store: .*external etcd cluster/],
      [{ join: "nohost", token }, /--join: "nohost" is not the API address/],
      [{ clusterInit: true, token: "short" }, /--token: 16 to 256 characters/],
      [{ clusterInit: true, bind: "0.0.0.0:7001" }, /--advertise-host: the API binds to 0\.0\.0\.0/],
      [{ join: "h:1", token, restore: "/b" }, /--restore: a joining node takes the cluster's state/],
      [{ clusterInit: true, etcdPeerPort: 70000 }, /--etcd-peer-port/],
      [{ maxRequestBytes: 1000 }, /--max-request-bytes/],
      [{ maxRequestBytes: 2 ** 30 }, /--max-request-bytes/],
      [
        { labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) },
        /--labels: at most 64 labels/,
      ],
    ])("rejects %j, naming the flag and the fix", (input, message) => {
      expect(() => parseNodeOptions({ dataDir: "/d", ...input })).toThrow(message);
    });

    it("lets a wildcard bind form a cluster when the advertised host is given", () => {
      const options = parseNodeOptions({
        dataDir: "/d",
        clusterInit: true,
        bind: "0.0.0.0:7001",
        advertiseHost: "10.0.0.5",
      });
      expect(options.advertiseHost).toBe("10.0.0.5");
    });
  });

  it("bounds request bodies at 1 MiB unless told otherwise", () => {
    expect(parseNodeOptions({ dataDir: "/d" }).maxRequestBytes).toBe(1024 * 1024);
    expect(parseNodeOptions({ dataDir: "/d", maxRequestBytes: 4 * 1024 * 1024 }).maxRequestBytes).toBe(
      4 * 1024 * 1024,
    );
  });

  it("defaults the host reservation and overcommit, and checks their ranges", () => {
    expect(parseNodeOptions({ dataDir: "/d" })).toMatchObject({
      reserveVcpus: 0,
      reserveMemory: 512,
      cpuOvercommit: 4,
      memoryOvercommit: 1,
    });
    expect(() => parseNodeOptions({ dataDir: "/d", cpuOvercommit: 0 })).toThrow(/--cpu-overcommit/);
    expect(() => parseNodeOptions({ dataDir: "/d", reserveMemory: -1 })).toThrow(/--reserve-memory/);
    expect(() => parseNodeOptions({ dataDir: "/d", reserveVcpus: Number.NaN })).toThrow(/--reserve-vcpus/);
  });

  it("compacts the SQLite store once a minute keeping 10,000 revisions unless told otherwise", () => {
    expect(parseNodeOptions({ dataDir: "/d" }).storeCompaction).toEqual({
      intervalSeconds: 60,
      retainRevisions: 10_000,
    });
    expect(
      parseNodeOptions({ dataDir: "/d", storeCompactionInterval: 5, storeCompactionRetain: 500 })
        .storeCompaction,
    ).toEqual({ intervalSeconds: 5, retainRevisions: 500 });
  });

  it("names the compaction flag and its range when a value is out of it", () => {
    expect(() => parseNodeOptions({ dataDir: "/d", storeCompactionInterval: 0 })).toThrow(
      /--store-compaction-interval: .*>=1/,
    );
    expect(() => parseNodeOptions({ dataDir: "/d", storeCompactionInterval: 1.5 })).toThrow(
      /--store-compaction-interval/,
    );
    // A retention of a few revisions would make every watch that blinks re-list the whole state.
    expect(() => parseNodeOptions({ dataDir: "/d", storeCompactionRetain: 10 })).toThrow(
      /--store-compaction-retain: .*>=100/,
    );
  });

  it("refuses the SQLite compaction flags with etcd, which compacts itself", () => {
    expect(() =>
      parseNodeOptions({ dataDir: "/d", store: "etcd://10.0.0.1:2379", storeCompactionInterval: 60 }),
    ).toThrow(/--store-compaction-interval: applies to the embedded SQLite store only/);
    expect(() => parseNodeOptions({ dataDir: "/d", clusterInit: true, storeCompactionRetain: 1000 })).toThrow(
      /--store-compaction-retain: applies to the embedded SQLite store only/,
    );
  });

  it("takes Ceph access as paths and names, defaulting the client to admin and the pool to rbd", () => {
    expect(
      parseNodeOptions({ dataDir: "/d", cephConf: "/etc/ceph/ceph.conf", cephKeyring: "/etc/ceph/k" }),
    ).toMatchObject({
      cephConf: "/etc/ceph/ceph.conf",
      cephKeyring: "/etc/ceph/k",
      cephUser: "admin",
      cephPool: "rbd",
    });
    expect(parseNodeOptions({ dataDir: "/d" }).cephConf).toBeUndefined();
  });

  it("refuses Ceph flags without --ceph-conf, and values that would add librados or qemu options (attack: ':' and ',' smuggling)", () => {
    expect(() => parseNodeOptions({ dataDir: "/d", cephKeyring: "/k" })).toThrow(
      /--ceph-conf: .*need --ceph-conf/,
    );
    expect(() => parseNodeOptions({ dataDir: "/d", cephConf: "/c:mon_host=6.6.6.6" })).toThrow(
      /--ceph-conf: /,
    );
    expect(() => parseNodeOptions({ dataDir: "/d", cephConf: "/c", cephUser: "admin,conf=/x" })).toThrow(
      /--ceph-user: /,
    );
    expect(() => parseNodeOptions({ dataDir: "/d", cephConf: "relative.conf" })).toThrow(/--ceph-conf: /);
  });
});
