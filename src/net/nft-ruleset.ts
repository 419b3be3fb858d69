/**
 * The node's nftables rules for bridge-mode VMs, as one nft script. Pure: the exact text is tested,
 * and every value in it is checked first (net-names.ts) so that no name or address can add a rule.
 *
 * `inet blixard`: guests reach nothing on the host. What arrives from the bridge for the host itself
 * may only be DHCP and DNS to the node's dnsmasq, ping to the gateway, and replies to connections the
 * host opened; everything else (the node API, etcd, ssh, anything on loopback) is dropped. Forwarded
 * traffic from the bridge to any node's underlay address is dropped too: another node's API and etcd
 * are host-local services as much as this one's. VM to VM traffic is bridged (L2), never routed, so
 * these chains do not see it. Traffic from the VM subnet leaving through another interface is
 * masqueraded behind the node's address.
 *
 * `bridge blixard`: DHCP never crosses the VXLAN device, in either direction, so only the node that
 * runs a VM (and holds its static lease) answers that VM's DHCP.
 *
 * Both tables are replaced in one nft transaction (add; delete; add with contents), so there is no
 * moment without rules, and applying the script again converges to the same state.
 */
import { checkDeviceName, checkIpv4, checkMac, parseCidr } from "./net-names.js";

export const INET_TABLE = "blixard";
export const BRIDGE_TABLE = "blixard";

export interface RulesetSettings {
  bridge: string;
  vxlan: string;
  /** The node's address on the bridge: gateway and DNS server of its guests. */
  bridgeAddress: string;
  /** The VM subnet, e.g. 10.88.0.0/16. */
  vmCidr: string;
  /** Underlay addresses of every node in the cluster (this one included). */
  nodeAddresses: string[];
  /**
   * The VMs on this node, by tap: when given, each tap may send only frames from its VM's MAC, and
   * only ARP and IPv4 from its VM's address (or 0.0.0.0, for DHCP and ARP probes); frames from any other port
   * whose name starts with `tapPrefix` are dropped. Unset: no anti-spoofing rules at all.
   */
  guests?: GuestPort[];
  /** The prefix of every VM tap (blxt); required with `guests`. */
  tapPrefix?: string;
}

export interface GuestPort {
  tap: string;
  mac: string;
  address: string;
}

/**
 * The anti-spoofing chain of the bridge table: a guest that sends from another VM's MAC or address,
 * or answers ARP for the gateway, would take their traffic. Checked at prerouting, before the bridge
 * learns the MAC or forwards the frame anywhere (to the host, a local tap or the VXLAN).
 */
function spoofChain(guests: GuestPort[], tapPrefix: string): string[] {
  const prefix = checkDeviceName(tapPrefix, "tap prefix");
  const lines = guests.flatMap((g) => {
    const tap = JSON.stringify(checkDeviceName(g.tap, "tap name"));
    const mac = checkMac(g.mac);
    const address = checkIpv4(g.address, "VM address");
    return [
      `    iifname ${tap} ether saddr ${mac} arp saddr ether ${mac} arp saddr ip { 0.0.0.0, ${address} } accept`,
      `    iifname ${tap} ether saddr ${mac} ip saddr { 0.0.0.0, ${address} } accept`,
    ];
  });
  return [
    "  chain prerouting {",
    "    type filter hook prerouting priority filter; policy accept;",
    ...lines,
    `    iifname "${prefix}*" counter drop`,
    "  }",
  ];
}

export function buildRuleset(s: RulesetSettings): string {
  const bridge = JSON.stringify(checkDeviceName(s.bridge, "bridge name"));
  const vxlan = JSON.stringify(checkDeviceName(s.vxlan, "VXLAN device name"));
  const gateway = checkIpv4(s.bridgeAddress, "bridge address");
  const cidr = parseCidr(s.vmCidr, "VM subnet");
  const subnet = `${cidr.network}/${cidr.prefixLength}`;
  const nodes = [...new Set(s.nodeAddresses.map((a) => checkIpv4(a, "node address")))].sort();
  const dhcp = "udp dport { 67, 68 }";
  const spoof = s.guests ? spoofChain(s.guests, s.tapPrefix ?? "") : [];
  return [
    `add table inet ${INET_TABLE}`,
    `delete table inet ${INET_TABLE}`,
    `add table inet ${INET_TABLE} {`,
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    `    iifname ${bridge} ct state established,related accept`,
    `    iifname ${bridge} udp sport 68 udp dport 67 accept`,
    `    iifname ${bridge} ip daddr ${gateway} udp dport 53 accept`,
    `    iifname ${bridge} ip daddr ${gateway} tcp dport 53 accept`,
    `    iifname ${bridge} ip daddr ${gateway} icmp type echo-request accept`,
    `    iifname ${bridge} counter drop`,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    ...(nodes.length > 0 ? [`    iifname ${bridge} ip daddr { ${nodes.join(", ")} } counter drop`] : []),
    "  }",
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    ip saddr ${subnet} ip daddr != ${subnet} oifname != ${bridge} masquerade`,
    "  }",
    "}",
    `add table bridge ${BRIDGE_TABLE}`,
    `delete table bridge ${BRIDGE_TABLE}`,
    `add table bridge ${BRIDGE_TABLE} {`,
    ...spoof,
    // Frames from the VXLAN to the node's own dnsmasq (input), between the VXLAN and local taps
    // (forward), and from the node's dnsmasq out through the VXLAN (output).
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    `    iifname ${vxlan} ${dhcp} counter drop`,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    `    iifname ${vxlan} ${dhcp} counter drop`,
    `    oifname ${vxlan} ${dhcp} counter drop`,
    "  }",
    "  chain output {",
    "    type filter hook output priority filter; policy accept;",
    `    oifname ${vxlan} ${dhcp} counter drop`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Deletes both tables; `add` first so that it also succeeds when they are absent. */
export function removalScript(): string {
  return [
    `add table inet ${INET_TABLE}`,
    `delete table inet ${INET_TABLE}`,
    `add table bridge ${BRIDGE_TABLE}`,
    `delete table bridge ${BRIDGE_TABLE}`,
    "",
  ].join("\n");
}
