/**
 * A service as stored under keys.service(name): its spec and the virtual address IPAM gave it (from
 * the service subnet, claimed under keys.addressClaim in the same transaction). One codec reads it
 * back; a value no API call could have written is reported, never half-read.
 */
import { z } from "zod";
import { decodeHolder, encodeHolder } from "./address-holder.js";
import { type ServiceSpec, serviceSpecSchema } from "./service-spec.js";
import type { Decoded } from "./store-codecs.js";
import { ipv4Bytes } from "./vm-network.js";

export interface ServiceRecord {
  name: string;
  spec: ServiceSpec;
  /** The virtual address (dotted quad) that every node load-balances. */
  address: string;
  createdAt: string;
}

const recordSchema = z.object({
  name: z.string(),
  spec: serviceSpecSchema,
  address: z.string().refine((a) => ipv4Bytes(a) !== undefined, "must be a dotted-quad IPv4 address"),
  createdAt: z.string().max(64),
}) satisfies z.ZodType<ServiceRecord>;

/**
 * What a claim held by a service says (keys.addressClaim, keys.portClaim): the holder's kind and
 * name, in the form every address claim uses (`{"vm": …}`, `{"node": …}`, `{"service": …}`).
 */
export function serviceClaimHolder(name: string): string {
  return encodeHolder({ service: name });
}

export function encodeServiceRecord(record: ServiceRecord): string {
  return JSON.stringify(record);
}

/** The record stored under the service `name`; its own name must be that key's. */
export function decodeServiceRecord(name: string, value: string): Decoded<ServiceRecord> {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return { ok: false, problem: "not JSON" };
  }
  const result = recordSchema.safeParse(json);
  if (!result.success) {
    const problem = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    return { ok: false, problem: problem.join("; ") };
  }
  if (result.data.name !== name || result.data.spec.name !== name) {
    return { ok: false, problem: `names service "${result.data.name}" under the key of "${name}"` };
  }
  return { ok: true, value: result.data };
}

/**
 * Who holds a host port claim, in words for an error: a VM's forward claim holds its bare name, a
 * service's says so (serviceClaimHolder).
 */
export function portClaimHolder(value: string): string {
  const holder = value.startsWith("{") ? decodeHolder(value) : undefined;
  if (holder?.ok && "service" in holder.value) return `the host port of service "${holder.value.service}"`;
  return `forwarded by VM "${value.slice(0, 63)}"`;
}
