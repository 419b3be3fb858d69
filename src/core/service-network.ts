/**
 * The cluster's address ranges as services need them: `serviceCidr` (where virtual addresses come
 * from) and `vmCidr` (where members' addresses must lie) of the cluster network settings
 * (keys.network), or the defaults when the settings are absent (a store from before bridge
 * networking, or a single node that never wrote them). Settings that are present but unreadable are
 * an error to fix, not a reason to hand out addresses from a range the other nodes may not use.
 */
import { z } from "zod";
import { BlixardError } from "./errors.js";
import { DEFAULT_SERVICE_CIDR, type Ipv4Cidr, parseCidr } from "./service-address.js";

export const DEFAULT_VM_CIDR = "10.88.0.0/16";

export interface Subnet {
  cidr: Ipv4Cidr;
  text: string;
}

// Only the fields services need; the other settings are the node's to check (core/cluster-network.ts).
const settingsSchema = z.looseObject({ serviceCidr: z.string(), vmCidr: z.string() });

/** The service and VM ranges the stored settings name (`stored` is the value under keys.network). */
export function clusterSubnetsOf(stored: string | undefined): { service: Subnet; vm: Subnet } {
  const texts =
    stored === undefined ? { serviceCidr: DEFAULT_SERVICE_CIDR, vmCidr: DEFAULT_VM_CIDR } : read(stored);
  return { service: subnet("serviceCidr", texts.serviceCidr), vm: subnet("vmCidr", texts.vmCidr) };
}

/** The service range alone: where a new service's address comes from. */
export function serviceSubnetOf(stored: string | undefined): Subnet {
  return clusterSubnetsOf(stored).service;
}

function subnet(field: string, text: string): Subnet {
  const cidr = parseCidr(text);
  if (!cidr) throw unreadable(`${field} "${text.slice(0, 64)}" is not an IPv4 subnet`);
  return { cidr, text };
}

function read(stored: string): { serviceCidr: string; vmCidr: string } {
  let json: unknown;
  try {
    json = JSON.parse(stored);
  } catch {
    throw unreadable("it is not JSON");
  }
  const parsed = settingsSchema.safeParse(json);
  if (!parsed.success) throw unreadable("it names no serviceCidr and vmCidr");
  return parsed.data;
}

function unreadable(why: string): BlixardError {
  return new BlixardError(
    "FAILED_PRECONDITION",
    `the cluster network settings cannot be read (${why}); restart a node with --vm-cidr and --service-cidr to rewrite them`,
  );
}
