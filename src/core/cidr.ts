/**
 * IPv4 CIDR ranges as numbers: parsing with errors that say what to write instead, the address at an
 * index and the index of an address. Pure; the IPAM (address claims) and the node's network set-up
 * build on it.
 */
import { ipv4Bytes } from "./vm-network.js";

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

const toNumber = (bytes: readonly number[]) => bytes.reduce((n, b) => n * 256 + b, 0);

export function addressToNumber(address: string): number | undefined {
  const bytes = ipv4Bytes(address);
  return bytes ? toNumber(bytes) : undefined;
}

export function numberToAddress(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** The CIDR, or what is wrong with it (for an error naming the flag or field). */
export function parseCidr(text: string): Cidr | string {
  const match = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  const base = match ? addressToNumber(match[1]!) : undefined;
  if (!match || base === undefined) return `"${text}" is not an IPv4 CIDR such as 10.88.0.0/16`;
  const prefix = Number(match[2]);
  if (prefix < 8 || prefix > 28) return `prefix /${prefix} is out of range: use /8 to /28 (e.g. /16)`;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    return `"${text}" has host bits set; did you mean ${numberToAddress(base - (base % size))}/${prefix}?`;
  }
  return { base, prefix };
}

export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function formatCidr(cidr: Cidr): string {
  return `${numberToAddress(cidr.base)}/${cidr.prefix}`;
}

export function netmask(cidr: Cidr): string {
  return numberToAddress(2 ** 32 - cidrSize(cidr));
}

/** Host addresses exclude the network address (index 0) and the broadcast address (the last). */
export function hostCount(cidr: Cidr): number {
  return cidrSize(cidr) - 2;
}

/** The `i`th host address (0-based: the first host is the network address + 1). */
export function hostAddress(cidr: Cidr, i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= hostCount(cidr)) throw new Error(`host index ${i} out of range`);
  return numberToAddress(cidr.base + 1 + i);
}

/** Whether the address is a host address of the range (not its network or broadcast address). */
export function isHostOf(cidr: Cidr, address: string): boolean {
  const n = addressToNumber(address);
  return n !== undefined && n > cidr.base && n < cidr.base + cidrSize(cidr) - 1;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}
