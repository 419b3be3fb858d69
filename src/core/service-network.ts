/**
 * The cluster's address ranges as services need them: `serviceCidr` (where virtual addresses come
 * from) and `vmCidr` (where members' addresses must lie) of the cluster network settings
 * (keys.network), read with core/cluster-network.ts's codec, or its defaults when the settings are
 * absent (a store from before bridge networking, or a single node that never wrote them). Settings
 * that are present but unreadable are an error to fix, not a reason to hand out addresses from a
 * range the other nodes may not use.
 */
import type { Cidr } from "./cidr.js";
import { cidrOf, DEFAULT_CLUSTER_NETWORK, decodeClusterNetwork } from "./cluster-network.js";
import { BlixardError } from "./errors.js";

export interface Subnet {
  cidr: Cidr;
  text: string;
}

/** The service and VM ranges the stored settings name (`stored` is the value under keys.network). */
export function clusterSubnetsOf(stored: string | undefined): { service: Subnet; vm: Subnet } {
  const settings = stored === undefined ? DEFAULT_CLUSTER_NETWORK : decodeClusterNetwork(stored);
  if (typeof settings === "string") throw unreadable(settings.slice(0, 500));
  return { service: subnet(settings.serviceCidr), vm: subnet(settings.vmCidr) };
}

/** The service range alone: where a new service's address comes from. */
export function serviceSubnetOf(stored: string | undefined): Subnet {
  return clusterSubnetsOf(stored).service;
}

// The codec has checked the range, so cidrOf does not throw here.
const subnet = (text: string): Subnet => ({ cidr: cidrOf(text), text });

function unreadable(why: string): BlixardError {
  return new BlixardError(
    "FAILED_PRECONDITION",
    `the cluster network settings cannot be read (${why}); restart a node with --vm-cidr and --service-cidr to rewrite them`,
  );
}
