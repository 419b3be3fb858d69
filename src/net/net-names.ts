/**
 * Checks of the names and addresses that go into `ip` argv, nftables rules and dnsmasq's config. They
 * come from the node's own settings and from IPAM, never straight from a user, but a config line or a
 * rule is text: one newline, brace or `#` in a name would add a line of an attacker's choosing, so
 * every value is checked against a strict shape before it is written anywhere. Pure.
 */
import {
  addressToNumber,
  cidrSize,
  netmask,
  numberToAddress,
  parseCidr as parseCoreCidr,
} from "../core/cidr.js";
import { BlixardError } from "../core/errors.js";
import { ipv4Bytes } from "../core/vm-network.js";

/** Linux interface names: at most 15 bytes; we allow only letters, digits, `_` and `-`. */
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** A DNS name: dot-separated labels of letters, digits and inner hyphens. */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function refuse(what: string, value: string, fix: string): never {
  throw new BlixardError("INVALID_ARGUMENT", `${what} ${JSON.stringify(value)} is not valid: ${fix}`);
}

export function checkDeviceName(name: string, what = "device name"): string {
  if (!DEVICE_NAME.test(name)) refuse(what, name, "use 1-15 letters, digits, '_' or '-'");
  return name;
}

/** `ip netns` names: a file name under /run/netns, so no slash and no leading dot. */
export function checkNamespaceName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(name)) {
    refuse("network namespace", name, "use 1-64 letters, digits, '_' or '-'");
  }
  return name;
}

export function checkIpv4(address: string, what = "IPv4 address"): string {
  if (!ipv4Bytes(address)) refuse(what, address, "write a dotted quad such as 10.88.0.1");
  return address;
}

export function checkMac(mac: string): string {
  if (!MAC.test(mac)) refuse("MAC address", mac, "write six lower-case hex pairs such as 02:b1:0a:58:00:05");
  return mac;
}

export function checkDnsName(name: string, what = "DNS name"): string {
  const labels = name.split(".");
  if (name.length > 253 || labels.some((l) => !DNS_LABEL.test(l))) {
    refuse(what, name, "use lower-case letters, digits and inner hyphens, labels separated by dots");
  }
  return name;
}

/** A subnet as the config writers need it, from core/cidr.ts's parse (the one IPv4 CIDR parser). */
export interface Ipv4Cidr {
  /** The network address (host bits cleared). */
  network: string;
  prefixLength: number;
  netmask: string;
}

/** Parses "a.b.c.d/len" into its network and netmask; host bits must be zero. */
export function parseCidr(cidr: string, what = "CIDR"): Ipv4Cidr {
  const parsed = parseCoreCidr(cidr);
  if (typeof parsed === "string") refuse(what, cidr, parsed);
  return { network: numberToAddress(parsed.base), prefixLength: parsed.prefix, netmask: netmask(parsed) };
}

/** Whether `address` lies inside `cidr` (its network and broadcast addresses included). */
export function cidrContains(cidr: Ipv4Cidr, address: string): boolean {
  const value = addressToNumber(address);
  const network = addressToNumber(cidr.network);
  if (value === undefined || network === undefined) return false;
  return value >= network && value < network + cidrSize({ base: network, prefix: cidr.prefixLength });
}
