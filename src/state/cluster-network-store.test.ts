import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_CLUSTER_NETWORK } from "../core/cluster-network.js";
import { keys } from "../core/keys.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { ensureClusterNetwork } from "./cluster-network-store.js";

let store: SqliteStore;
beforeEach(async () => {
  store = await SqliteStore.open({ path: ":memory:", clock: new ManualClock() });
});
afterEach(async () => {
  await store.close();
});

describe("the cluster's network settings", () => {
  it("are written by the first node, with the defaults for what it was not given", async () => {
    const net = await ensureClusterNetwork(store, { vmCidr: "10.50.0.0/16" });
    expect(net).toEqual({ ...DEFAULT_CLUSTER_NETWORK, vmCidr: "10.50.0.0/16" });
    expect(JSON.parse((await store.get(keys.network))!.value)).toEqual(net);
  });

  it("are read by later nodes, which refuse to start with a different range, naming the flag", async () => {
    await ensureClusterNetwork(store, {});
    expect(await ensureClusterNetwork(store, {})).toEqual(DEFAULT_CLUSTER_NETWORK);
    expect(await ensureClusterNetwork(store, { vmCidr: "10.88.0.0/16" })).toEqual(DEFAULT_CLUSTER_NETWORK);
    await expect(ensureClusterNetwork(store, { vmCidr: "10.90.0.0/16" })).rejects.toThrow(
      "this node was started with --vm-cidr 10.90.0.0/16 but the cluster uses 10.88.0.0/16",
    );
  });

  it("refuse settings that cannot work, and write nothing", async () => {
    await expect(ensureClusterNetwork(store, { vmCidr: "10.88.1.0/16" })).rejects.toThrow(
      /did you mean 10\.88\.0\.0\/16/,
    );
    await expect(ensureClusterNetwork(store, { serviceCidr: "10.88.128.0/17" })).rejects.toThrow(/overlaps/);
    expect(await store.get(keys.network)).toBeUndefined();
  });

  it("refuse a stored value no node could have written (the attack: a hand-edited store)", async () => {
    await store.txn({
      compare: [],
      success: [{ type: "put", key: keys.network, value: '{"vmCidr":"0.0.0.0/0"}' }],
    });
    await expect(ensureClusterNetwork(store, {})).rejects.toThrow(/cannot be read/);
  });
});
