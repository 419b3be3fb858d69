/**
 * The cluster's network settings, stored once under keys.network by the first node that starts and
 * read by every other: the VM range (IPAM for bridge-mode VMs and node bridges), the service range
 * (virtual addresses), the DNS domain and the VXLAN network id. A node started with settings that
 * differ from the stored ones refuses to start, since two nodes disagreeing on the ranges would give
 * one address twice.
 */
import { z } from "zod";
import { type Cidr, formatCidr, overlaps, parseCidr } from "./cidr.js";

export interface ClusterNetwork {
  vmCidr: string;
  serviceCidr: string;
  domain: string;
  vni: number;
}

export const DEFAULT_CLUSTER_NETWORK: ClusterNetwork = {
  vmCidr: "10.88.0.0/16",
  serviceCidr: "10.89.0.0/16",
  domain: "blixard.internal",
  vni: 4242,
};

const cidrText = z.string().superRefine((value, ctx) => {
  const parsed = parseCidr(value);
  if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
});

const domain = z
  .string()
  .max(200)
  .regex(
    /^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    "must be a DNS domain of lowercase labels, e.g. blixard.internal",
  );

export const clusterNetworkSchema = z
  .strictObject({
    vmCidr: cidrText,
    serviceCidr: cidrText,
    domain,
    vni: z.int().min(1).max(16_777_215),
  })
  .superRefine((n, ctx) => {
    const vm = parseCidr(n.vmCidr);
    const svc = parseCidr(n.serviceCidr);
    if (typeof vm !== "string" && typeof svc !== "string" && overlaps(vm, svc)) {
      ctx.addIssue({
        code: "custom",
        path: ["serviceCidr"],
        message: `overlaps the VM range ${n.vmCidr}; choose ranges that do not overlap`,
      });
    }
  });

export function decodeClusterNetwork(value: string): ClusterNetwork | string {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return "not JSON";
  }
  const parsed = clusterNetworkSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  return parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/** A range of settings that passed the schema. */
export function cidrOf(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

/** The differences between the stored settings and the ones a node was started with, for its error. */
export function networkMismatch(stored: ClusterNetwork, requested: Partial<ClusterNetwork>): string[] {
  const names: Record<keyof ClusterNetwork, string> = {
    vmCidr: "--vm-cidr",
    serviceCidr: "--service-cidr",
    domain: "--cluster-domain",
    vni: "--vxlan-vni",
  };
  return (Object.keys(names) as (keyof ClusterNetwork)[])
    .filter((k) => requested[k] !== undefined && String(requested[k]) !== String(stored[k]))
    .map((k) => `${names[k]} ${String(requested[k])} but the cluster uses ${String(stored[k])}`);
}

export const normalCidr = (text: string) => formatCidr(cidrOf(text));
