/**
 * The Store contract against a real 3-member etcd cluster on loopback. One cluster serves the whole
 * file: each test gets a store with a key namespace of its own, so it starts empty, and tests run one
 * at a time, so no other writes move the (cluster-wide) revision while a test runs. Cleanup revokes
 * every lease, so no lease granted by one test expires in the middle of the next.
 */
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupCommitStore } from "../group-commit/group-commit-store.js";
import { runStoreContract, type StoreHarness } from "../store.contract.js";
import { LocalEtcdCluster } from "./etcd-cluster.js";
import { EtcdStore } from "./etcd-store.js";

let cluster: LocalEtcdCluster;
let admin: Etcd3;
let namespaces = 0;

beforeAll(async () => {
  cluster = await LocalEtcdCluster.start({ size: 3 });
  admin = new Etcd3({ hosts: cluster.endpoints });
});

afterAll(async () => {
  admin?.close();
  await cluster?.destroy();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function revokeAllLeases(): Promise<void> {
  const { leases } = await admin.leaseClient.leaseLeases();
  await Promise.all(leases.map(({ ID }) => admin.leaseClient.leaseRevoke({ ID }).catch(() => undefined)));
}

async function etcdHarness(): Promise<StoreHarness> {
  const namespace = `/contract/${++namespaces}`;
  const connect = () => EtcdStore.connect({ endpoints: cluster.endpoints, namespace });
  let store = await connect();
  return {
    get store() {
      return store;
    },
    passTime: sleep,
    async reopen() {
      await store.close();
      store = await connect();
      return store;
    },
    async cleanup() {
      await store.close();
      await revokeAllLeases();
    },
  };
}

runStoreContract("etcd (3 members)", etcdHarness);

// Production nodes put group commit in front of etcd: the contract holds through it too.
runStoreContract("group commit over etcd (3 members)", async () => {
  const inner = await etcdHarness();
  let store = new GroupCommitStore(inner.store);
  return {
    get store() {
      return store;
    },
    passTime: inner.passTime,
    async reopen() {
      store = new GroupCommitStore(await inner.reopen!());
      return store;
    },
    cleanup: inner.cleanup,
  };
});

describe("GroupCommitStore over etcd", () => {
  it("carries many concurrent creates in few transactions that etcd accepts, and splits a batch whose compare fails", async () => {
    const inner = await EtcdStore.connect({ endpoints: cluster.endpoints, namespace: "/group" });
    const store = new GroupCommitStore(inner);
    try {
      await store.put("/vms/taken", "someone");
      // As the API creates VMs: the record, its status, a port claim and an event, if the name is free.
      const create = (name: string) =>
        store.txn({
          confirmQuorum: true,
          compare: [{ key: `/vms/${name}`, target: "createRevision", op: "=", value: 0 }],
          success: [
            { type: "put", key: `/vms/${name}`, value: "x".repeat(700) },
            { type: "put", key: `/status/${name}`, value: "{}" },
            { type: "put", key: `/claims/${name}`, value: name },
            { type: "put", key: `/events/${name}`, value: "created" },
          ],
        });
      const names = [...Array.from({ length: 200 }, (_, i) => `vm-${i}`), "taken"];
      const results = await Promise.all(names.map(create));
      expect(results.slice(0, 200).every((r) => r.succeeded)).toBe(true);
      expect(results[200]!.succeeded).toBe(false);
      expect((await store.range("/vms/")).kvs).toHaveLength(201);
      expect((await store.get("/vms/taken"))?.value).toBe("someone");
      expect(await store.get("/claims/taken")).toBeUndefined();
      // The first create alone; the 200 that waited go 32 to a transaction (4 writes each, etcd's limit
      // is 128 operations): 7 transactions, the last (8 creates, "taken" among them) split into 8.
      expect(store.stats.sent).toBe(1 + 7 + 8);
      expect(store.stats.split).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe("EtcdStore", () => {
  it("keeps namespaces apart on one cluster", async () => {
    const a = await EtcdStore.connect({ endpoints: cluster.endpoints, namespace: "/iso/a" });
    const b = await EtcdStore.connect({ endpoints: cluster.endpoints, namespace: "/iso/b" });
    try {
      await a.put("/k", "from a");
      await b.put("/k", "from b");
      await b.put("/other", "from b");
      expect((await a.get("/k"))?.value).toBe("from a");
      expect((await a.range("")).kvs.map((kv) => [kv.key, kv.value])).toEqual([["/k", "from a"]]);
      expect((await b.range("")).kvs.map((kv) => kv.key)).toEqual(["/k", "/other"]);
      expect((await admin.get("/iso/a/k").string()) ?? undefined).toBe("from a");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("grants its own lease ids, which etcd honours and reports back exactly", async () => {
    const store = await EtcdStore.connect({ endpoints: cluster.endpoints, namespace: "/ids" });
    try {
      const lease = await store.grantLease(30);
      await store.put("/leased", "v", { lease: lease.id });
      const { leases } = await admin.leaseClient.leaseLeases();
      expect(leases.map(({ ID }) => ID)).toContain(String(lease.id));
      expect((await store.get("/leased"))?.lease).toBe(lease.id);
      await store.revokeLease(lease.id);
    } finally {
      await store.close();
    }
  });

  it("raises a TTL below etcd's minimum and says so in the granted lease", async () => {
    const store = await EtcdStore.connect({ endpoints: cluster.endpoints, namespace: "/ttl" });
    try {
      const lease = await store.grantLease(1);
      expect(lease.ttlSeconds).toBeGreaterThan(1);
      await store.revokeLease(lease.id);
    } finally {
      await store.close();
    }
  });
});
