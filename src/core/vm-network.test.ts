import { describe, expect, it } from "vitest";
import { bridgeAttachment, ipv4Bytes, macForAddress, tapForAddress } from "./vm-network.js";

describe("VM network names", () => {
  it("derives the MAC and the tap from the cluster address", () => {
    expect(macForAddress("10.88.1.7")).toBe("02:b1:0a:58:01:07");
    expect(tapForAddress("10.88.1.7")).toBe("blxt0a580107");
    expect(tapForAddress("255.255.255.255")).toHaveLength(12); // within IFNAMSIZ - 1 = 15
    expect(bridgeAttachment("10.88.0.2")).toMatchObject({ bridge: "blxbr0", tap: "blxt0a580002", mtu: 1450 });
  });

  it("gives distinct addresses distinct MACs and taps", () => {
    const a = ["10.88.0.2", "10.88.0.3", "10.88.1.2", "10.89.0.2"];
    expect(new Set(a.map(macForAddress)).size).toBe(a.length);
    expect(new Set(a.map(tapForAddress)).size).toBe(a.length);
  });

  it("refuses what is not a dotted quad, rather than naming a device after it", () => {
    for (const bad of ["10.88.0", "10.88.0.256", "10.88.0.1; rm -rf /", "010.1.1.1", "a.b.c.d", ""]) {
      expect(ipv4Bytes(bad)).toBeUndefined();
      expect(() => tapForAddress(bad)).toThrow(/not an IPv4 address/);
    }
  });
});
