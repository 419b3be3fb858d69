import { describe, expect, it } from "vitest";
import { DEFAULT_CLUSTER_NETWORK } from "./cluster-network.js";
import { clusterSubnetsOf } from "./service-network.js";

describe("clusterSubnetsOf", () => {
  it("takes the ranges from the settings, and the defaults when there are none", () => {
    expect(clusterSubnetsOf(undefined)).toMatchObject({
      service: { text: "10.89.0.0/16" },
      vm: { text: "10.88.0.0/16" },
    });
    const stored = JSON.stringify({ vmCidr: "10.1.0.0/16", serviceCidr: "10.2.0.0/24", domain: "x", vni: 1 });
    expect(clusterSubnetsOf(stored)).toMatchObject({
      service: { text: "10.2.0.0/24", cidr: { base: 0x0a020000, prefix: 24 } },
      vm: { text: "10.1.0.0/16" },
    });
  });

  it("refuses settings it cannot read instead of guessing a range other nodes may not use", () => {
    expect(() => clusterSubnetsOf("{")).toThrow(/cannot be read \(not JSON\); restart a node with --vm-cidr/);
    const { serviceCidr: _, ...noService } = DEFAULT_CLUSTER_NETWORK;
    expect(() => clusterSubnetsOf(JSON.stringify(noService))).toThrow(/cannot be read \(serviceCidr: /);
    expect(() =>
      clusterSubnetsOf(
        JSON.stringify({ ...DEFAULT_CLUSTER_NETWORK, vmCidr: "x", serviceCidr: "10.2.0.0/24" }),
      ),
    ).toThrow(/vmCidr: "x" is not an IPv4 CIDR/);
    // Ranges that overlap would give one address to a VM and a service: the node's codec refuses them.
    expect(() =>
      clusterSubnetsOf(JSON.stringify({ ...DEFAULT_CLUSTER_NETWORK, serviceCidr: "10.88.128.0/24" })),
    ).toThrow(/serviceCidr: overlaps the VM range/);
  });
});
