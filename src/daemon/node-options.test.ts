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
  });

  it.each(["etcd://", "etcd://host", "mysql://x:1", "etcd://a:1,b"])(
    "rejects the store %j, naming the flag",
    (store) => {
      expect(() => parseNodeOptions({ dataDir: "/d", store })).toThrow(/--store: .*etcd:\/\/HOST:PORT/);
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
});
