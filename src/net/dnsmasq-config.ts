/**
 * dnsmasq's configuration and its two data files, as text. Pure: tested line by line, and every value
 * is checked (net-names.ts) so that no name, address or path adds a config line.
 *
 * dnsmasq serves the node's bridge only (`interface=` with `bind-interfaces`, never loopback or the
 * underlay). DHCP hands out static leases only, for the VMs on this node (`dhcp-hostsfile`, MAC to
 * address; `dhcp-ignore=tag:!known` leaves every other MAC unanswered, so the node running a VM is the
 * only one that answers it). Router and DNS server are the node's bridge address, the interface MTU
 * the overlay's. DNS answers names of the cluster domain from `addn-hosts` and asks nobody upstream.
 * Both data files are re-read on SIGHUP.
 */
import { BlixardError } from "../core/errors.js";
import { checkDeviceName, checkDnsName, checkIpv4, checkMac, cidrContains, parseCidr } from "./net-names.js";

export interface DnsmasqSettings {
  /** The directory holding the config, the lease file, the pid file and the log. */
  dir: string;
  /**
   * The directory of the two data files dnsmasq re-reads on SIGHUP, after it dropped to `user`, so
   * every directory above them must be open to that user (the node's data dir is not); `dir` when unset.
   */
  hostsDir?: string;
  bridge: string;
  bridgeAddress: string;
  vmCidr: string;
  mtu: number;
  /** The cluster domain, e.g. blixard.internal. */
  domain: string;
  /** The unprivileged user and group dnsmasq drops to after binding its ports. */
  user?: string;
  group?: string;
  /** DNS port; 53 in production, another where a test shares a namespace with a resolver. */
  port?: number;
}

export interface DhcpHost {
  mac: string;
  address: string;
}

export interface HostName {
  address: string;
  /** Fully qualified names for the address, e.g. web-1.vm.blixard.internal. */
  names: string[];
}

export const CONFIG_FILE = "dnsmasq.conf";
export const DHCP_HOSTS_FILE = "dhcp-hosts";
export const HOSTS_FILE = "hosts";

/** An absolute path with no character that could end a config line or be read as syntax. */
function checkPath(path: string): string {
  if (!/^\/[A-Za-z0-9._/+-]*$/.test(path) || path.split("/").includes("..")) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `dnsmasq directory ${JSON.stringify(path)} must be an absolute path of letters, digits and . _ / + -; choose a plainer data dir`,
    );
  }
  return path;
}

function checkUser(name: string, what: string): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name)) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `dnsmasq ${what} ${JSON.stringify(name)} is not a valid account name`,
    );
  }
  return name;
}

export function dnsmasqConfig(s: DnsmasqSettings): string {
  const dir = checkPath(s.dir);
  const hostsDir = checkPath(s.hostsDir ?? s.dir);
  const bridge = checkDeviceName(s.bridge, "bridge name");
  const gateway = checkIpv4(s.bridgeAddress, "bridge address");
  const cidr = parseCidr(s.vmCidr, "VM subnet");
  if (!cidrContains(cidr, gateway)) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `bridge address ${gateway} is outside the VM subnet ${s.vmCidr}`,
    );
  }
  const domain = checkDnsName(s.domain, "cluster domain");
  if (!Number.isInteger(s.mtu) || s.mtu < 576 || s.mtu > 9000) {
    throw new BlixardError("INVALID_ARGUMENT", `guest MTU ${s.mtu} must be 576-9000`);
  }
  const port = s.port ?? 53;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BlixardError("INVALID_ARGUMENT", `DNS port ${port} must be 1-65535`);
  }
  return [
    `interface=${bridge}`,
    "bind-interfaces",
    "except-interface=lo",
    `port=${port}`,
    `user=${checkUser(s.user ?? "nobody", "user")}`,
    `group=${checkUser(s.group ?? "nogroup", "group")}`,
    `dhcp-range=${cidr.network},static,${cidr.netmask},12h`,
    `dhcp-hostsfile=${hostsDir}/${DHCP_HOSTS_FILE}`,
    "dhcp-ignore=tag:!known",
    "dhcp-authoritative",
    `dhcp-leasefile=${dir}/leases`,
    `dhcp-option=option:router,${gateway}`,
    `dhcp-option=option:dns-server,${gateway}`,
    `dhcp-option=26,${s.mtu}`,
    `domain=${domain}`,
    `local=/${domain}/`,
    `addn-hosts=${hostsDir}/${HOSTS_FILE}`,
    "no-resolv",
    "no-hosts",
    `pid-file=${dir}/dnsmasq.pid`,
    `log-facility=${dir}/dnsmasq.log`,
    "log-dhcp",
    "",
  ].join("\n");
}

/** `dhcp-hostsfile` lines: MAC,address. Duplicates of either are refused (one lease per VM). */
export function dhcpHostsFile(hosts: DhcpHost[]): string {
  const macs = new Set<string>();
  const addresses = new Set<string>();
  const lines = hosts.map((h) => {
    const mac = checkMac(h.mac);
    const address = checkIpv4(h.address, "lease address");
    if (macs.has(mac) || addresses.has(address)) {
      throw new BlixardError(
        "INVALID_ARGUMENT",
        `two leases share MAC ${mac} or address ${address}; each VM has its own`,
      );
    }
    macs.add(mac);
    addresses.add(address);
    return `${mac},${address}`;
  });
  return lines.map((l) => `${l}\n`).join("");
}

/** `addn-hosts` lines: address, then its names. */
export function hostsFile(entries: HostName[]): string {
  return entries
    .filter((e) => e.names.length > 0)
    .map((e) => `${checkIpv4(e.address, "host address")} ${e.names.map((n) => checkDnsName(n)).join(" ")}\n`)
    .join("");
}
