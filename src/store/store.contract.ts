/**
 * The Store contract suite, Hono-style: each backend's test file calls runStoreContract with a harness,
 * and every backend is held to the same etcd v3 semantics (see ports/store.ts). The suite lives in
 * contract/, one file per area; this file is its entry point.
 */
import { describe } from "vitest";
import { type StoreHarness, useHarness } from "./contract/context.contract.js";
import { durabilityContract } from "./contract/durability.contract.js";
import { kvContract } from "./contract/kv.contract.js";
import { leaseContract } from "./contract/lease.contract.js";
import { txnContract } from "./contract/txn.contract.js";
import { watchContract } from "./contract/watch.contract.js";

export type { StoreHarness } from "./contract/context.contract.js";

export function runStoreContract(label: string, harness: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${label}`, () => {
    const c = useHarness(harness);
    kvContract(c);
    txnContract(c);
    watchContract(c);
    leaseContract(c);
    durabilityContract(c);
  });
}
