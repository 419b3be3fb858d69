import { describe, expect, it } from "vitest";
import { cidrOf } from "../../core/cluster-network.js";
import { buildServiceTable, removeServiceTable, type ServiceRules } from "./service-table.js";

const web: ServiceRules = {
  name: "web",
  address: "10.89.0.42",
  port: 80,
  protocol: "tcp",
  members: [
    { address: "10.88.0.5", port: 8080 },
    { address: "10.88.0.6", port: 8080 },
  ],
};

describe("buildServiceTable", () => {
  it("spreads a service's connections over its members at random and masquerades them", () => {
    const { script, skipped } = buildServiceTable([web], { hostAddresses: ["192.168.7.2"] });
    expect(skipped).toEqual([]);
    expect(script).toContain(
      'ip daddr 10.89.0.42 tcp dport 80 dnat ip to numgen random mod 2 map { 0 : 10.88.0.5 . 8080, 1 : 10.88.0.6 . 8080 } comment "web"',
    );
    expect(script).toContain(
      "ct status dnat ct original ip daddr 10.89.0.42 meta l4proto tcp ct original proto-dst 80 masquerade",
    );
    // Replaced whole, in one transaction.
    expect(
      script.startsWith("table ip blixard-svc\ndelete table ip blixard-svc\ntable ip blixard-svc {"),
    ).toBe(true);
    expect(script).not.toContain("reject");
  });

  it("serves the host port on each of the node's addresses", () => {
    const { script } = buildServiceTable([{ ...web, hostPort: 30080 }], {
      hostAddresses: ["192.168.7.2", "10.0.0.2"],
    });
    expect(script).toContain("ip daddr 192.168.7.2 tcp dport 30080 dnat ip to numgen random mod 2");
    expect(script).toContain("ip daddr 10.0.0.2 tcp dport 30080 dnat ip to numgen random mod 2");
    expect(script).toContain(
      "ct original ip daddr 192.168.7.2 meta l4proto tcp ct original proto-dst 30080 masquerade",
    );
  });

  it("never serves one of the node's own ports as a host port (its API or etcd hijacked by VMs)", () => {
    const { script, skipped } = buildServiceTable([{ ...web, hostPort: 7001 }], {
      hostAddresses: ["192.168.7.2"],
      reservedPorts: [7001, 7002, 7003],
    });
    expect(script).not.toContain("dport 7001");
    expect(script).toContain("ip daddr 10.89.0.42 tcp dport 80 dnat ip to");
    expect(skipped).toEqual([{ name: "web", problem: "host port 7001 is this node's own; not served here" }]);
  });

  it("serves no address outside the service range and no member outside the VM range (a forged record aiming at a node)", () => {
    const ranges = { service: cidrOf("10.89.0.0/16"), vm: cidrOf("10.88.0.0/16") };
    const forged: ServiceRules[] = [
      // A node's own API address as a virtual address: every node would divert its traffic.
      { ...web, name: "grab", address: "192.168.7.2", port: 7001 },
      { ...web, name: "leak", members: [...web.members, { address: "192.168.7.3", port: 2379 }] },
    ];
    const { script, skipped } = buildServiceTable(forged, { hostAddresses: [], ranges });
    expect(script).not.toContain("192.168.7");
    expect(script).toContain("numgen random mod 2 map { 0 : 10.88.0.5 . 8080, 1 : 10.88.0.6 . 8080 }");
    expect(skipped).toEqual([
      { name: "grab", problem: "its address 192.168.7.2 is outside the service range" },
      { name: "leak", problem: "members outside the VM range left out: 192.168.7.3" },
    ]);
  });

  it("rejects connections to a service without members instead of translating them", () => {
    const { script } = buildServiceTable([{ ...web, members: [] }], { hostAddresses: [] });
    expect(script).not.toContain("dnat ip to");
    expect(script).toContain('ip daddr 10.89.0.42 tcp dport 80 reject with tcp reset comment "web"');
  });

  it("leaves out a service whose values could inject nft syntax, and still serves the others", () => {
    const forged: ServiceRules[] = [
      { ...web, name: "evil", address: "10.89.0.1 tcp dport 22 dnat ip to 10.88.0.9 ;" },
      { ...web, name: "evil2", members: [{ address: "10.88.0.5 } ; flush ruleset ; {", port: 1 }] },
      { ...web, name: 'x" ; flush ruleset', address: "10.89.0.2" },
      { ...web, name: "evil3", port: 1.5 },
    ];
    const { script, skipped } = buildServiceTable([...forged, web], {
      hostAddresses: ["1.2.3.4; flush ruleset"],
    });
    expect(skipped.map((s) => s.name)).toEqual(["evil", "evil2", "evil3", "(invalid name)"]);
    expect(script).not.toContain("flush");
    expect(script).not.toContain("evil");
    expect(script).toContain('comment "web"');
  });

  it("renders the same text for the same services in any order (nothing to apply when unchanged)", () => {
    const api = { ...web, name: "api", address: "10.89.0.43" };
    const options = { hostAddresses: [] };
    expect(buildServiceTable([web, api], options).script).toBe(buildServiceTable([api, web], options).script);
  });

  it("removes the table whether or not it exists", () => {
    expect(removeServiceTable()).toBe("table ip blixard-svc\ndelete table ip blixard-svc\n");
  });
});
