/**
 * The IPAM of cluster addresses: a VM's, a node bridge's or a service's address is claimed by a key
 * under /addresses/ that is created in the same transaction as its holder (create-if-absent), so no
 * address is ever given twice, whichever node's API hands it out. Candidates are drawn at random while
 * the range is sparse (one key per create, whatever the cluster's size); after collisions, from one
 * scan of the claims. The transaction, not this class, is what decides.
 */

import { type AddressHolder, encodeHolder } from "../core/address-holder.js";
import { type Cidr, formatCidr, hostAddress, hostCount, isHostOf } from "../core/cidr.js";
import { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import type { Random } from "../ports/random.js";
import type { Compare, Store, TxnOp } from "../ports/store.js";

/** The compare and the put that claim `address` for `holder` inside the holder's own transaction. */
export function claimAddressParts(address: string, holder: AddressHolder): { compare: Compare; put: TxnOp } {
  const key = keys.addressClaim(address);
  return {
    compare: { key, target: "createRevision", op: "=", value: 0 },
    put: { type: "put", key, value: encodeHolder(holder) },
  };
}

export function releaseAddressOp(address: string): TxnOp {
  return { type: "delete", key: keys.addressClaim(address) };
}

/** Random draws before a scan: at 50 % use, 8 draws all collide one time in 256. */
const RANDOM_DRAWS = 8;

/** What a full range's error says after naming the range: what the caller can free to make room. */
const FREE_VM_ADDRESSES = 'delete VMs in bridge mode, or create this one with network = "user"';

export class AddressPool {
  constructor(
    private readonly store: Store,
    readonly cidr: Cidr,
    private readonly random: Random,
    private readonly whenFull: { range: string; fix: string } = {
      range: "the cluster's address range",
      fix: FREE_VM_ADDRESSES,
    },
  ) {}

  /**
   * `count` distinct addresses of the range, none in `avoid`, believed free: random draws first;
   * with `scan` (after a collision), the free ones found by reading every claim of the range.
   */
  async candidates(count: number, avoid: ReadonlySet<string>, scan = false): Promise<string[]> {
    const size = hostCount(this.cidr);
    const chosen = new Set<string>();
    if (!scan) {
      for (let draw = 0; draw < RANDOM_DRAWS * count && chosen.size < count; draw++) {
        const address = hostAddress(this.cidr, Math.floor(this.random.next() * size));
        if (!avoid.has(address)) chosen.add(address);
      }
      if (chosen.size === count) return [...chosen];
    }
    const claimed = await this.claimed();
    const start = Math.floor(this.random.next() * size);
    for (let i = 0; i < size && chosen.size < count; i++) {
      const address = hostAddress(this.cidr, (start + i) % size);
      if (!claimed.has(address) && !avoid.has(address)) chosen.add(address);
    }
    if (chosen.size < count) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `${this.whenFull.range} ${formatCidr(this.cidr)} has no free address left; ${this.whenFull.fix}`,
      );
    }
    return [...chosen];
  }

  /** Which of `addresses` are claimed now. */
  async taken(addresses: readonly string[]): Promise<string[]> {
    const found = await Promise.all(addresses.map((a) => this.store.get(keys.addressClaim(a))));
    return addresses.filter((_, i) => found[i] !== undefined);
  }

  private async claimed(): Promise<Set<string>> {
    const { kvs } = await this.store.range(keys.addressesPrefix);
    return new Set(
      kvs.map((kv) => kv.key.slice(keys.addressesPrefix.length)).filter((a) => isHostOf(this.cidr, a)),
    );
  }
}
