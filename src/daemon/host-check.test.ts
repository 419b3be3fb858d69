import { describe, expect, it } from "vitest";
import { createHostCheck, hostName } from "./host-check.js";

const machine = () => ({ hostname: "box", addresses: ["10.0.0.5", "fe80::1"] });

describe("host check", () => {
  it("parses Host headers with ports and IPv6 brackets", () => {
    expect(hostName("Example.COM:7001")).toBe("example.com");
    expect(hostName("[::1]:7001")).toBe("::1");
    expect(hostName("[::1]x")).toBeUndefined();
    expect(hostName("a b")).toBeUndefined();
  });

  it("refuses a rebinding attacker's name and accepts the node's own names", () => {
    const check = createHostCheck({ bindHost: "127.0.0.1", advertiseHost: "127.0.0.1", machine });
    expect(check.problem({ host: "attacker.example:7001" })?.status).toBe(421);
    expect(check.problem({})?.status).toBe(421);
    for (const host of ["127.0.0.1:7001", "localhost", "[::1]:7001", "box:7001"]) {
      expect(check.problem({ host }), host).toBeUndefined();
    }
    // Interface addresses count only when the node listens on all of them.
    expect(check.problem({ host: "10.0.0.5:7001" })?.status).toBe(421);
    const all = createHostCheck({ bindHost: "0.0.0.0", advertiseHost: "node1.lan", machine });
    expect(all.problem({ host: "10.0.0.5:7001" })).toBeUndefined();
    expect(all.problem({ host: "node1.lan:7001" })).toBeUndefined();
  });

  it("refuses cross-origin browser requests", () => {
    const check = createHostCheck({ bindHost: "127.0.0.1", advertiseHost: "127.0.0.1", machine });
    const host = "127.0.0.1:7001";
    expect(check.problem({ host, origin: "https://evil.example" })?.status).toBe(403);
    expect(check.problem({ host, origin: "null" })?.status).toBe(403);
    expect(check.problem({ host, "sec-fetch-site": "cross-site" })?.status).toBe(403);
    expect(check.problem({ host, origin: "http://127.0.0.1:7001" })).toBeUndefined();
  });
});
