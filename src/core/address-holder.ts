/**
 * Who holds a cluster address: the value of its claim key (keys.addressClaim). A VM's claim also
 * names its replica group, so that a node serves the VM's and the group's DNS names from the claims
 * alone (one small key per address), without reading every VM record.
 */
import { z } from "zod";
import type { Decoded } from "./store-codecs.js";

export type AddressHolder = { vm: string; group?: string } | { node: string } | { service: string };

const name = z.string().min(1).max(253);
const holderSchema = z.union([
  z.strictObject({ vm: name, group: name.optional() }),
  z.strictObject({ node: name }),
  z.strictObject({ service: name }),
]);

export function encodeHolder(holder: AddressHolder): string {
  return JSON.stringify(holder);
}

export function decodeHolder(value: string): Decoded<AddressHolder> {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return { ok: false, problem: "not JSON" };
  }
  const parsed = holderSchema.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problem: "not an address holder" };
}
