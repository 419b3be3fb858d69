import { describe, expect, it } from "vitest";
import { type BridgeFacts, checkBridgePreconditions } from "./bridge-preconditions.js";

const able: BridgeFacts = {
  root: true,
  programs: { ip: "/sbin/ip", bridge: "/sbin/bridge", nft: "/sbin/nft", dnsmasq: "/sbin/dnsmasq" },
  tun: true,
};

describe("bridge networking preconditions", () => {
  it("answer the VXLAN endpoint when the host has everything", () => {
    expect(checkBridgePreconditions(able, "192.0.2.7")).toBe("192.0.2.7");
  });

  it("name every missing piece and the flag that does without them", () => {
    const facts: BridgeFacts = { root: false, programs: { ...able.programs, nft: undefined }, tun: false };
    expect(() => checkBridgePreconditions(facts, "0.0.0.0")).toThrow(
      /must run as root.*nft not found on the PATH.*\/dev\/net\/tun is missing.*--advertise-host.*--bridge-network off$/,
    );
    expect(() => checkBridgePreconditions(able, "node-a.example")).toThrow(/not an IPv4 address/);
  });
});
