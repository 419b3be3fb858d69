import { describe, expect, it } from "vitest";
import { inCidr, parseCidr } from "./service-address.js";

describe("service addresses", () => {
  it("parses a range, and refuses what core/cidr.ts refuses", () => {
    expect(parseCidr("10.89.0.0/16")).toEqual({ base: 0x0a590000, prefix: 16 });
    for (const bad of ["10.89.3.7/16", "10.89.0.0", "10.89.0.0/33", "10.89.0/16", "10.89.0.0/16/1", "x/8"]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });

  it("counts only host addresses as inside, never the network or broadcast address", () => {
    const cidr = parseCidr("10.89.0.0/28")!;
    expect(inCidr(cidr, "10.89.0.1")).toBe(true);
    expect(inCidr(cidr, "10.89.0.14")).toBe(true);
    expect(inCidr(cidr, "10.89.0.0")).toBe(false);
    expect(inCidr(cidr, "10.89.0.15")).toBe(false);
    expect(inCidr(cidr, "10.88.0.1")).toBe(false);
  });
});
