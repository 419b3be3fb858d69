import { describe, expect, it } from "vitest";
import { inCidr, lowestFreeAddress, parseCidr, randomAddress } from "./service-address.js";

describe("service addresses", () => {
  it("parses a subnet to its network address", () => {
    expect(parseCidr("10.89.3.7/16")).toEqual({ base: parseCidr("10.89.0.0/16")!.base, prefix: 16 });
    for (const bad of ["10.89.0.0", "10.89.0.0/33", "10.89.0.0/31", "10.89.0/16", "10.89.0.0/16/1", "x/8"]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it("draws only host addresses of the subnet, never its network or broadcast address", () => {
    const cidr = parseCidr("10.89.0.0/30")!;
    expect(randomAddress(cidr, () => 0)).toBe("10.89.0.1");
    expect(randomAddress(cidr, () => 0.999999)).toBe("10.89.0.2");
    expect(inCidr(cidr, "10.89.0.0")).toBe(false);
    expect(inCidr(cidr, "10.89.0.3")).toBe(false);
    expect(inCidr(cidr, "10.88.0.1")).toBe(false);
  });

  it("scans for the lowest free address, and says so when the subnet is full", () => {
    const cidr = parseCidr("10.89.0.0/29")!;
    expect(lowestFreeAddress(cidr, new Set(["10.89.0.1", "10.89.0.2"]), "x")).toBe("10.89.0.3");
    const all = new Set(["1", "2", "3", "4", "5", "6"].map((h) => `10.89.0.${h}`));
    expect(() => lowestFreeAddress(cidr, all, "10.89.0.0/29")).toThrow(/every address .* is taken/);
  });
});
