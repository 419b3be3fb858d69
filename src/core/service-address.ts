/**
 * Service addresses against the cluster's ranges, as the service table checks them: a service's
 * virtual address must be a host address of the service range, a member's of the VM range. The
 * arithmetic is core/cidr.ts's (the one IPv4 CIDR implementation); drawing and claiming a free
 * address is state/address-pool.ts's, for services as for VMs and node bridges.
 */
import { type Cidr, isHostOf, parseCidr as parseCidrOrProblem } from "./cidr.js";

export type Ipv4Cidr = Cidr;

/** "10.89.0.0/16" as a range; undefined when core/cidr.ts refuses it (it says why). */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const parsed = parseCidrOrProblem(text);
  return typeof parsed === "string" ? undefined : parsed;
}

/** Whether `address` is a host address of the range (neither its network nor broadcast address). */
export function inCidr(cidr: Ipv4Cidr, address: string): boolean {
  return isHostOf(cidr, address);
}
