import { describe, expect, it } from "vitest";
import { clusterSubnetsOf } from "./service-network.js";

describe("clusterSubnetsOf", () => {
  it("takes the ranges from the settings, and the defaults when there are none", () => {
    expect(clusterSubnetsOf(undefined)).toMatchObject({
      service: { text: "10.89.0.0/16" },
      vm: { text: "10.88.0.0/16" },
    });
    const stored = JSON.stringify({ vmCidr: "10.1.0.0/16", serviceCidr: "10.2.0.0/24", domain: "x", vni: 1 });
    expect(clusterSubnetsOf(stored)).toMatchObject({
      service: { text: "10.2.0.0/24" },
      vm: { text: "10.1.0.0/16" },
    });
  });

  it("refuses settings it cannot read instead of guessing a range other nodes may not use", () => {
    expect(() => clusterSubnetsOf("{")).toThrow(
      /cannot be read \(it is not JSON\); restart a node with --vm-cidr/,
    );
    expect(() => clusterSubnetsOf(JSON.stringify({ vmCidr: "10.1.0.0/16" }))).toThrow(/names no serviceCidr/);
    expect(() => clusterSubnetsOf(JSON.stringify({ vmCidr: "x", serviceCidr: "10.2.0.0/24" }))).toThrow(
      /vmCidr "x" is not an IPv4 subnet/,
    );
  });
});
