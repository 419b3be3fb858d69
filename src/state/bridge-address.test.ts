import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cidrOf } from "../core/cluster-network.js";
import { keys } from "../core/keys.js";
import { SeededRandom } from "../sim/seeded-random.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { AddressPool } from "./address-pool.js";
import { claimBridgeAddress } from "./bridge-address.js";

let store: SqliteStore;
let pool: AddressPool;
beforeEach(async () => {
  store = await SqliteStore.open({ path: ":memory:", clock: new ManualClock() });
  pool = new AddressPool(store, cidrOf("10.88.0.0/24"), new SeededRandom(5));
});
afterEach(async () => {
  await store.close();
});

describe("a node's bridge address", () => {
  it("is claimed from the VM range and kept across restarts", async () => {
    const first = await claimBridgeAddress(store, pool, "node-a", undefined);
    expect(first).toMatch(/^10\.88\.0\.\d+$/);
    expect(JSON.parse((await store.get(keys.addressClaim(first)))!.value)).toEqual({ node: "node-a" });
    expect(await claimBridgeAddress(store, pool, "node-a", first)).toBe(first);
  });

  it("is not taken over from another holder: a record naming someone else's address gets a new one", async () => {
    const theirs = await claimBridgeAddress(store, pool, "node-b", undefined);
    const mine = await claimBridgeAddress(store, pool, "node-a", theirs);
    expect(mine).not.toBe(theirs);
    expect(JSON.parse((await store.get(keys.addressClaim(theirs)))!.value)).toEqual({ node: "node-b" });
  });
});
