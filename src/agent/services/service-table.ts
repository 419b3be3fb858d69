/**
 * The node's load-balancing rules as one nftables table, `ip blixard-svc`, built from the services and
 * their members. Pure: the same inputs give the same text, so the controller applies only when the
 * text changes, and tests read the rules without a kernel.
 *
 * Per service with members, in a nat chain that both prerouting (traffic routed through the node:
 * guests, other hosts) and output (the node's own processes) jump to:
 *   ip daddr VIP tcp dport PORT dnat ip to numgen random mod N map { 0 : A . P, ... }
 * and the same for `hostPort` on each of the node's own addresses. Connections DNAT'ed by these rules
 * are masqueraded on the way to the member (matched by their original destination, so other NAT on
 * the host is left alone): the member answers the node, which undoes both translations; without it a
 * member on another node would answer the client directly, from an address the client never called.
 * A service without members rejects connections (TCP reset) instead of letting them time out.
 *
 * Everything written into the script is checked here again (addresses are dotted quads, ports whole
 * numbers in range, names DNS labels), whatever the store held: the text is a program for nft, and a
 * value that could carry a `;` or a `}` must never reach it. A service that fails the check is left
 * out and reported; the others are still served.
 */

import { type Cidr, isHostOf } from "../../core/cidr.js";
import { nameProblem } from "../../core/names.js";
import { ipv4Bytes } from "../../core/vm-network.js";

export const SERVICE_TABLE_FAMILY = "ip";
export const SERVICE_TABLE = "blixard-svc";

export interface ServiceEndpoint {
  address: string;
  port: number;
}

export interface ServiceRules {
  name: string;
  /** The virtual address and the service port. */
  address: string;
  port: number;
  protocol: "tcp";
  hostPort?: number;
  members: readonly ServiceEndpoint[];
}

export interface BuiltTable {
  script: string;
  /** Services left out, with why. */
  skipped: { name: string; problem: string }[];
}

const TABLE = `${SERVICE_TABLE_FAMILY} ${SERVICE_TABLE}`;

/**
 * Replaces the table atomically: nft applies one file as one transaction, and declaring the table
 * first makes the delete succeed when it does not exist yet.
 */
export function buildServiceTable(
  services: readonly ServiceRules[],
  options: {
    hostAddresses: readonly string[];
    /** The node's own ports (API, etcd): never served as a host port, whatever the store says. */
    reservedPorts?: readonly number[];
    /**
     * The cluster's ranges: a virtual address outside the service range (a node's own address, say)
     * is not served, and a member outside the VM range is left out, whatever the store says.
     */
    ranges?: { service: Cidr; vm: Cidr };
  },
): BuiltTable {
  const skipped: BuiltTable["skipped"] = [];
  const hosts = options.hostAddresses.filter((a) => ipv4Bytes(a) !== undefined);
  const dnat: string[] = [];
  const masquerade: string[] = [];
  const reject: string[] = [];
  for (const service of [...services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const problem = serviceProblem(service);
    if (problem) {
      skipped.push({ name: nameProblem(service.name) ? "(invalid name)" : service.name, problem });
      continue;
    }
    const { ranges } = options;
    if (ranges && !isHostOf(ranges.service, service.address)) {
      skipped.push({
        name: service.name,
        problem: `its address ${service.address} is outside the service range`,
      });
      continue;
    }
    const outside = ranges ? service.members.filter((m) => !isHostOf(ranges.vm, m.address)) : [];
    if (outside.length > 0) {
      const list = outside.map((m) => m.address).join(", ");
      skipped.push({ name: service.name, problem: `members outside the VM range left out: ${list}` });
    }
    const members = service.members.filter((m) => !outside.includes(m));
    let hostPort = service.hostPort;
    if (hostPort !== undefined && options.reservedPorts?.includes(hostPort)) {
      // Taking it would hand the node's control traffic to the service's VMs.
      skipped.push({
        name: service.name,
        problem: `host port ${hostPort} is this node's own; not served here`,
      });
      hostPort = undefined;
    }
    const fronts: ServiceEndpoint[] = [
      { address: service.address, port: service.port },
      ...(hostPort === undefined ? [] : hosts.map((address) => ({ address, port: hostPort }))),
    ];
    const comment = `comment "${service.name}"`;
    for (const front of fronts) {
      const match = `ip daddr ${front.address} tcp dport ${front.port}`;
      if (members.length === 0) {
        reject.push(`${match} reject with tcp reset ${comment}`);
        continue;
      }
      const map = members.map((m, i) => `${i} : ${m.address} . ${m.port}`).join(", ");
      dnat.push(`${match} dnat ip to numgen random mod ${members.length} map { ${map} } ${comment}`);
      masquerade.push(
        `ct status dnat ct original ip daddr ${front.address} meta l4proto tcp ct original proto-dst ${front.port} masquerade ${comment}`,
      );
    }
  }
  const chain = (name: string, hook: string | undefined, rules: readonly string[]) => [
    `  chain ${name} {`,
    ...(hook ? [`    ${hook}`] : []),
    ...rules.map((r) => `    ${r}`),
    "  }",
  ];
  const lines = [
    `table ${TABLE}`,
    `delete table ${TABLE}`,
    `table ${TABLE} {`,
    ...chain("services", undefined, dnat),
    ...chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", ["jump services"]),
    ...chain("output", "type nat hook output priority -100; policy accept;", ["jump services"]),
    ...chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", masquerade),
    ...chain("no-members", undefined, reject),
    // A virtual address is routed through the node (forward) or called by the node itself (output);
    // a host port is the node's own (input).
    ...chain("forward", "type filter hook forward priority filter; policy accept;", ["jump no-members"]),
    ...chain("output-filter", "type filter hook output priority filter; policy accept;", ["jump no-members"]),
    ...chain("input", "type filter hook input priority filter; policy accept;", ["jump no-members"]),
    "}",
  ];
  return { script: `${lines.join("\n")}\n`, skipped };
}

/** Removes the table, whether or not it exists. */
export function removeServiceTable(): string {
  return `table ${TABLE}\ndelete table ${TABLE}\n`;
}

const validPort = (p: number) => Number.isInteger(p) && p >= 1 && p <= 65535;

function serviceProblem(s: ServiceRules): string | undefined {
  const name = nameProblem(s.name);
  if (name) return `name ${name}`;
  if (s.protocol !== "tcp") return `protocol must be tcp`;
  if (ipv4Bytes(s.address) === undefined) return "its address is not a dotted-quad IPv4 address";
  if (!validPort(s.port)) return "its port is not 1 to 65535";
  if (s.hostPort !== undefined && !validPort(s.hostPort)) return "its host port is not 1 to 65535";
  const bad = s.members.find((m) => ipv4Bytes(m.address) === undefined || !validPort(m.port));
  if (bad) return "a member's address or port is invalid";
  return undefined;
}
