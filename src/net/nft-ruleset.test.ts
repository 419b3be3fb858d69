import { describe, expect, it } from "vitest";
import { isBlixardError } from "../core/errors.js";
import { buildRuleset, type RulesetSettings, removalScript } from "./nft-ruleset.js";

const base: RulesetSettings = {
  bridge: "blxbr0",
  vxlan: "blxvx0",
  bridgeAddress: "10.88.0.1",
  vmCidr: "10.88.0.0/16",
  nodeAddresses: ["192.168.1.3", "192.168.1.2"],
};

function refused(patch: Partial<RulesetSettings>): boolean {
  try {
    buildRuleset({ ...base, ...patch });
    return false;
  } catch (err) {
    return isBlixardError(err, "INVALID_ARGUMENT");
  }
}

describe("buildRuleset", () => {
  const script = buildRuleset(base);

  it("replaces both tables in one transaction: add, delete, add with contents", () => {
    const heads = script.split("\n").filter((l) => /^(add|delete) table/.test(l));
    expect(heads).toEqual([
      "add table inet blixard",
      "delete table inet blixard",
      "add table inet blixard {",
      "add table bridge blixard",
      "delete table bridge blixard",
      "add table bridge blixard {",
    ]);
  });

  it("lets guests reach only DHCP, DNS and ping on their gateway, then drops the rest from the bridge", () => {
    const input = script.slice(script.indexOf("chain input"), script.indexOf("chain forward"));
    expect(input).toContain('iifname "blxbr0" udp sport 68 udp dport 67 accept');
    expect(input).toContain('iifname "blxbr0" ip daddr 10.88.0.1 udp dport 53 accept');
    expect(input).toContain('iifname "blxbr0" ip daddr 10.88.0.1 tcp dport 53 accept');
    // The attack: a guest connecting to the node API or etcd on the host. Nothing else is accepted.
    const accepts = input.split("\n").filter((l) => l.includes("accept") && !l.includes("policy"));
    expect(accepts).toHaveLength(5);
    expect(input.trim().split("\n").at(-2)?.trim()).toBe('iifname "blxbr0" counter drop');
  });

  it("drops forwarded traffic from the bridge to every node's underlay address (another node's API)", () => {
    expect(script).toContain('iifname "blxbr0" ip daddr { 192.168.1.2, 192.168.1.3 } counter drop');
  });

  it("leaves the node rule out when no node address is known yet, rather than writing an empty set", () => {
    expect(buildRuleset({ ...base, nodeAddresses: [] })).not.toContain("ip daddr {");
  });

  it("masquerades the VM subnet leaving through any interface but the bridge", () => {
    expect(script).toContain('ip saddr 10.88.0.0/16 ip daddr != 10.88.0.0/16 oifname != "blxbr0" masquerade');
  });

  it("drops DHCP crossing the VXLAN device in every bridge hook, so only a VM's own node answers it", () => {
    const bridgeTable = script.slice(script.indexOf("add table bridge blixard {"));
    expect(bridgeTable.match(/(iif|oif)name "blxvx0" udp dport \{ 67, 68 \} counter drop/g)).toHaveLength(4);
  });

  it("refuses names and addresses that would inject a rule", () => {
    expect(refused({ bridge: 'blxbr0" accept\n#' })).toBe(true);
    expect(refused({ bridge: "br0 } ; flush ruleset" })).toBe(true);
    expect(refused({ vxlan: "vx0\nflush ruleset" })).toBe(true);
    expect(refused({ bridgeAddress: "10.88.0.1 accept" })).toBe(true);
    expect(refused({ vmCidr: "0.0.0.0/0 accept" })).toBe(true);
    expect(refused({ vmCidr: "10.88.0.1/16" })).toBe(true);
    expect(refused({ nodeAddresses: ["192.168.1.2 } accept"] })).toBe(true);
    expect(refused({})).toBe(false);
  });

  it("with the node's VMs, lets each tap send only from its VM's MAC and address, and drops other taps", () => {
    const withGuests = buildRuleset({
      ...base,
      tapPrefix: "blxt",
      guests: [{ tap: "blxt0a580005", mac: "02:b1:0a:58:00:05", address: "10.88.0.5" }],
    });
    const chain = withGuests.slice(
      withGuests.indexOf("chain prerouting"),
      withGuests.indexOf(
        'chain input {\n    type filter hook input priority filter; policy accept;\n    iifname "blxvx0"',
      ),
    );
    expect(chain.split("\n").filter((l) => l.includes("iifname"))).toEqual([
      '    iifname "blxt0a580005" ether saddr 02:b1:0a:58:00:05 arp saddr ether 02:b1:0a:58:00:05 arp saddr ip { 0.0.0.0, 10.88.0.5 } accept',
      '    iifname "blxt0a580005" ether saddr 02:b1:0a:58:00:05 ip saddr { 0.0.0.0, 10.88.0.5 } accept',
      '    iifname "blxt*" counter drop',
    ]);
    expect(script).not.toContain("chain prerouting");
  });

  it("refuses a guest entry that would inject a rule", () => {
    const guest = { tap: "blxt0a580005", mac: "02:b1:0a:58:00:05", address: "10.88.0.5" };
    expect(refused({ tapPrefix: "blxt", guests: [{ ...guest, tap: 'blxt" accept #' }] })).toBe(true);
    expect(refused({ tapPrefix: "blxt", guests: [{ ...guest, mac: "02:b1:0a:58:00:05 accept" }] })).toBe(
      true,
    );
    expect(refused({ tapPrefix: "blxt", guests: [{ ...guest, address: "0.0.0.0/0" }] })).toBe(true);
    expect(refused({ tapPrefix: "blxt*", guests: [guest] })).toBe(true);
    expect(refused({ guests: [guest] })).toBe(true);
  });

  it("removes both tables even when they are absent (add before delete)", () => {
    expect(removalScript()).toBe(
      "add table inet blixard\ndelete table inet blixard\nadd table bridge blixard\ndelete table bridge blixard\n",
    );
  });
});
