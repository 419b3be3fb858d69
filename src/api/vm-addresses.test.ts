import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cidrOf } from "../core/cluster-network.js";
import { keys } from "../core/keys.js";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import type { Random } from "../ports/random.js";
import { SeededRandom } from "../sim/seeded-random.js";
import { AddressPool } from "../state/address-pool.js";
import { deleteVmOps } from "../state/vm-transactions.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { VmRepository } from "./vm-repository.js";

const clock = new ManualClock();
let store: SqliteStore;

beforeEach(async () => {
  store = await SqliteStore.open({ path: ":memory:", clock });
});
afterEach(async () => {
  await store.close();
});

function record(name: string, network: "user" | "bridge" = "bridge"): VmRecord {
  return {
    name,
    spec: parseVmSpec({ name, kernel: "/images/vmlinuz", network }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: new Date(0).toISOString(),
  };
}

const repoWith = (cidr: string, random: Random, writer = "api") =>
  new VmRepository(store, clock, writer, new AddressPool(store, cidrOf(cidr), random));

/** A random source that replays `values`, then repeats the last one. */
const replay = (values: number[]): Random => {
  let i = 0;
  return { next: () => values[Math.min(i++, values.length - 1)]!, hex: () => "00" };
};

async function claims(): Promise<Map<string, string>> {
  const { kvs } = await store.range(keys.addressesPrefix);
  return new Map(kvs.map((kv) => [kv.key.slice(keys.addressesPrefix.length), kv.value]));
}

describe("cluster addresses for bridge-mode VMs", () => {
  it("gives a bridge-mode VM an address of the range, claimed with it, and a user-mode VM none", async () => {
    const repo = repoWith("10.88.0.0/16", new SeededRandom(1));
    const view = await repo.create(record("web"));
    const plain = await repo.create(record("plain", "user"));
    expect(view.address).toMatch(/^10\.88\.\d+\.\d+$/);
    expect(plain.address).toBeUndefined();
    expect((await repo.get("web")).address).toBe(view.address);
    expect(await claims()).toEqual(new Map([[view.address!, JSON.stringify({ vm: "web" })]]));
    const events = await store.range(keys.eventsPrefix);
    expect(events.kvs.some((kv) => kv.value.includes(`at ${view.address}`))).toBe(true);
  });

  it("never gives one address twice: 50 concurrent creates through three nodes' APIs on a small range", async () => {
    // 62 host addresses for 50 VMs: random draws collide often, and the store's claim decides.
    const repos = [1, 2, 3].map((seed) => repoWith("10.88.0.0/26", new SeededRandom(seed), `node-${seed}`));
    const views = await Promise.all(
      Array.from({ length: 50 }, (_, i) => repos[i % 3]!.create(record(`vm-${i}`))),
    );
    const addresses = views.map((v) => v.address);
    expect(new Set(addresses).size).toBe(50);
    expect((await claims()).size).toBe(50);
  });

  it("draws again when another create took the drawn address first (the attack: a race for one address)", async () => {
    // Both repositories draw the same first address; the second must not get it.
    const first = repoWith("10.88.0.0/24", replay([0.5]));
    const second = repoWith("10.88.0.0/24", replay([0.5, 0.5, 0.1]));
    const a = await first.create(record("a"));
    const b = await second.create(record("b"));
    expect(a.address).toBe("10.88.0.128");
    expect(b.address).not.toBe(a.address);
    expect((await claims()).get(b.address!)).toBe(JSON.stringify({ vm: "b" }));
  });

  it("refuses a create when the range is full, naming the range, and changes nothing", async () => {
    const repo = repoWith("10.88.0.0/28", new SeededRandom(7)); // 14 host addresses
    for (let i = 0; i < 14; i++) await repo.create(record(`vm-${i}`));
    const revision = await store.revision();
    await expect(repo.create(record("one-too-many"))).rejects.toThrow(
      /10\.88\.0\.0\/28 has no free address left/,
    );
    expect(await store.revision()).toBe(revision);
  });

  it("releases the address with the VM's final delete, so it can be given again", async () => {
    const repo = repoWith("10.88.0.0/16", new SeededRandom(3));
    const view = await repo.create(record("web"));
    const current = await store.get(keys.vm("web"));
    const stored = JSON.parse(current!.value) as VmRecord;
    await store.txn({
      compare: [],
      success: deleteVmOps(stored, "", { type: "put", key: `${keys.eventsPrefix}x`, value: "{}" }),
    });
    expect((await claims()).has(view.address!)).toBe(false);
  });

  it("refuses bridge mode on a node that hands out no addresses, saying what to use", async () => {
    const repo = new VmRepository(store, clock);
    await expect(repo.create(record("web"))).rejects.toThrow(/network = "user"/);
    expect((await store.range(keys.vmsPrefix)).kvs).toHaveLength(0);
  });
});
