/**
 * Choosing a free virtual address for a service from the service subnet (IPAM for services). A
 * random address first, so that concurrent creates on different nodes rarely collide (the store's
 * create-if-absent on the address claim decides when they do); after a few collisions, a scan for
 * the lowest free one, so that a nearly full subnet still finds its last addresses. Pure: the
 * randomness comes in as a port.
 */
import { BlixardError } from "./errors.js";
import { ipv4Bytes } from "./vm-network.js";

/** The service subnet when the cluster's network settings name none. */
export const DEFAULT_SERVICE_CIDR = "10.89.0.0/16";

export interface Ipv4Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function toNumber(address: string): number | undefined {
  const bytes = ipv4Bytes(address);
  return bytes ? ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0 : undefined;
}

export function toDotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** "10.89.0.0/16" as a subnet; undefined when it is not an IPv4 subnet with room for two hosts. */
export function parseCidr(cidr: string): Ipv4Cidr | undefined {
  const [address, bits, ...rest] = cidr.split("/");
  if (rest.length > 0 || address === undefined || bits === undefined || !/^[0-9]{1,2}$/.test(bits)) {
    return undefined;
  }
  const prefix = Number(bits);
  const n = toNumber(address);
  if (n === undefined || prefix < 1 || prefix > 30) return undefined;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (n & mask) >>> 0, prefix };
}

/** The first and last host address (network and broadcast addresses excluded). */
function hostRange(cidr: Ipv4Cidr): { first: number; last: number } {
  const size = 2 ** (32 - cidr.prefix);
  return { first: cidr.base + 1, last: cidr.base + size - 2 };
}

export function inCidr(cidr: Ipv4Cidr, address: string): boolean {
  const n = toNumber(address);
  const { first, last } = hostRange(cidr);
  return n !== undefined && n >= first && n <= last;
}

/** A uniformly random host address of the subnet; `random` is uniform in [0, 1). */
export function randomAddress(cidr: Ipv4Cidr, random: () => number): string {
  const { first, last } = hostRange(cidr);
  return toDotted(first + Math.floor(random() * (last - first + 1)));
}

/** The lowest host address of the subnet not in `taken`, or RESOURCE exhaustion said plainly. */
export function lowestFreeAddress(cidr: Ipv4Cidr, taken: ReadonlySet<string>, cidrText: string): string {
  const { first, last } = hostRange(cidr);
  for (let n = first; n <= last; n++) {
    const address = toDotted(n);
    if (!taken.has(address)) return address;
  }
  throw new BlixardError(
    "FAILED_PRECONDITION",
    `every address of the service subnet ${cidrText} is taken; delete services you no longer need`,
  );
}
