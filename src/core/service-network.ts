/**
 * The service subnet of the cluster: `serviceCidr` of the cluster network settings (keys.network),
 * or the default when the settings are absent (a store from before bridge networking, or a single
 * node that never wrote them). Settings that are present but unreadable are an error to fix, not
 * a reason to hand out addresses from a range the other nodes may not use.
 */
import { z } from "zod";
import { BlixardError } from "./errors.js";
import { DEFAULT_SERVICE_CIDR, type Ipv4Cidr, parseCidr } from "./service-address.js";

export interface ServiceSubnet {
  cidr: Ipv4Cidr;
  text: string;
}

// Only the field services need; the other settings are the node's to check (core/cluster-network.ts).
const settingsSchema = z.looseObject({ serviceCidr: z.string() });

/** The service subnet the stored settings name (`stored` is the value under keys.network, if any). */
export function serviceSubnetOf(stored: string | undefined): ServiceSubnet {
  const text = stored === undefined ? DEFAULT_SERVICE_CIDR : readServiceCidr(stored);
  const cidr = parseCidr(text);
  if (!cidr) throw unreadable(`serviceCidr "${text.slice(0, 64)}" is not an IPv4 subnet`);
  return { cidr, text };
}

function readServiceCidr(stored: string): string {
  let json: unknown;
  try {
    json = JSON.parse(stored);
  } catch {
    throw unreadable("it is not JSON");
  }
  const parsed = settingsSchema.safeParse(json);
  if (!parsed.success) throw unreadable("it names no serviceCidr");
  return parsed.data.serviceCidr;
}

function unreadable(why: string): BlixardError {
  return new BlixardError(
    "FAILED_PRECONDITION",
    `the cluster network settings cannot be read (${why}); restart a node with --service-cidr to rewrite them`,
  );
}
