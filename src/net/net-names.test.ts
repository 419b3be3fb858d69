import { describe, expect, it } from "vitest";
import { checkDeviceName, cidrContains, parseCidr } from "./net-names.js";

describe("parseCidr", () => {
  it("gives the network and netmask of a subnet", () => {
    expect(parseCidr("10.88.0.0/16")).toEqual({
      network: "10.88.0.0",
      prefixLength: 16,
      netmask: "255.255.0.0",
    });
    expect(parseCidr("192.168.4.0/22")).toEqual({
      network: "192.168.4.0",
      prefixLength: 22,
      netmask: "255.255.252.0",
    });
  });

  it("refuses host bits, bad prefixes and trailing text", () => {
    for (const bad of [
      "10.88.0.1/16",
      "10.88.0.0/0",
      "10.88.0.0/31",
      "10.88.0.0/16/1",
      "10.88.0.0",
      "10.88.0.0/016",
    ]) {
      expect(() => parseCidr(bad)).toThrow(/not valid/);
    }
  });

  it("tells whether an address is inside", () => {
    const cidr = parseCidr("10.88.0.0/16");
    expect(cidrContains(cidr, "10.88.255.254")).toBe(true);
    expect(cidrContains(cidr, "10.89.0.1")).toBe(false);
    expect(cidrContains(cidr, "not-an-address")).toBe(false);
  });
});

describe("checkDeviceName", () => {
  it("accepts Linux interface names up to 15 bytes and refuses anything that is not a plain name", () => {
    expect(checkDeviceName("blxt0a580005")).toBe("blxt0a580005");
    for (const bad of ["", "a234567890123456", "br0 type", "../x", "-br", "br0\n"]) {
      expect(() => checkDeviceName(bad)).toThrow(/not valid/);
    }
  });
});
