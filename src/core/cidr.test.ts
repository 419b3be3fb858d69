import { describe, expect, it } from "vitest";
import {
  addressToNumber,
  formatCidr,
  hostAddress,
  hostCount,
  isHostOf,
  netmask,
  numberToAddress,
  overlaps,
  parseCidr,
} from "./cidr.js";

const cidr = (text: string) => {
  const parsed = parseCidr(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
};

describe("CIDR", () => {
  it("parses a range and numbers its host addresses", () => {
    const c = cidr("10.88.0.0/16");
    expect(formatCidr(c)).toBe("10.88.0.0/16");
    expect(netmask(c)).toBe("255.255.0.0");
    expect(hostCount(c)).toBe(65534);
    expect(hostAddress(c, 0)).toBe("10.88.0.1");
    expect(hostAddress(c, 65533)).toBe("10.88.255.254");
    expect(() => hostAddress(c, 65534)).toThrow(/out of range/);
    expect(numberToAddress(addressToNumber("192.168.3.4")!)).toBe("192.168.3.4");
  });

  it("tells a host address from the network and broadcast addresses and from outsiders", () => {
    const c = cidr("10.88.0.0/16");
    expect(isHostOf(c, "10.88.3.7")).toBe(true);
    expect(isHostOf(c, "10.88.0.0")).toBe(false);
    expect(isHostOf(c, "10.88.255.255")).toBe(false);
    expect(isHostOf(c, "10.89.0.1")).toBe(false);
    expect(isHostOf(c, "not an address")).toBe(false);
  });

  it("refuses what is not a usable range, saying what to write instead", () => {
    expect(parseCidr("10.88.1.0/16")).toBe('"10.88.1.0/16" has host bits set; did you mean 10.88.0.0/16?');
    expect(parseCidr("10.88.0.0/30")).toMatch(/use \/8 to \/28/);
    expect(parseCidr("10.88.0.0")).toMatch(/not an IPv4 CIDR/);
    expect(parseCidr("10.88.0.0/16; drop")).toMatch(/not an IPv4 CIDR/);
  });

  it("finds overlapping ranges", () => {
    expect(overlaps(cidr("10.88.0.0/16"), cidr("10.88.128.0/17"))).toBe(true);
    expect(overlaps(cidr("10.88.0.0/16"), cidr("10.89.0.0/16"))).toBe(false);
  });
});
