/**
 * What one etcd call costs a Node process in CPU (the etcd3 client over grpc-js), on a real 3-member
 * loopback cluster: the unit price of every round trip a create makes, for reading the cluster
 * throughput figures.
 */
import { LocalEtcdCluster } from "../store/etcd/etcd-cluster.js";
import { EtcdStore } from "../store/etcd/etcd-store.js";
import { selfCpuMs } from "./cpu-time.js";

export interface EtcdCallCost {
  /** CPU ms per call in this process. */
  get: number;
  txn: number;
  quorumTxn: number;
}

export async function measureEtcdCallCost(calls: number): Promise<EtcdCallCost> {
  const cluster = await LocalEtcdCluster.start({ size: 3 });
  const store = await EtcdStore.connect({ endpoints: cluster.endpoints });
  try {
    const value = "x".repeat(512);
    const cost = async (call: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < 100; i++) await call(-i - 1); // warm-up
      const before = selfCpuMs();
      for (let i = 0; i < calls; i++) await call(i);
      return (selfCpuMs() - before) / calls;
    };
    return {
      get: await cost(() => store.get("/bench/k")),
      txn: await cost((i) =>
        store.txn({ compare: [], success: [{ type: "put", key: `/bench/t/${i}`, value }] }),
      ),
      quorumTxn: await cost((i) =>
        store.txn({
          confirmQuorum: true,
          compare: [],
          success: [{ type: "put", key: `/bench/q/${i}`, value }],
        }),
      ),
    };
  } finally {
    await store.close();
    await cluster.destroy();
  }
}
