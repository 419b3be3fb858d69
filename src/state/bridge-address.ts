/**
 * A node's bridge address: the cluster address its guests use as gateway and DNS server, claimed from
 * the VM range like a VM's (state/address-pool.ts) and kept across restarts: a node that finds its
 * own claim reuses it, so guests' leases and routes stay valid.
 */
import { decodeHolder } from "../core/address-holder.js";
import { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import type { Store } from "../ports/store.js";
import { type AddressPool, claimAddressParts } from "./address-pool.js";

export async function claimBridgeAddress(
  store: Store,
  pool: AddressPool,
  nodeId: string,
  previous: string | undefined,
): Promise<string> {
  if (previous !== undefined) {
    const claim = await store.get(keys.addressClaim(previous));
    const holder = claim ? decodeHolder(claim.value) : undefined;
    if (holder?.ok && "node" in holder.value && holder.value.node === nodeId) return previous;
  }
  const avoid = new Set<string>();
  for (let attempt = 0; attempt < 20; attempt++) {
    const [address] = await pool.candidates(1, avoid, attempt > 0);
    const parts = claimAddressParts(address!, { node: nodeId });
    const result = await store.txn({ compare: [parts.compare], success: [parts.put] });
    if (result.succeeded) return address!;
    avoid.add(address!);
  }
  throw new BlixardError("CONFLICT", "could not claim a bridge address for this node; start it again");
}
