/**
 * Cluster mode benchmarks on three real nodes with managed etcd members, side by side in one run:
 * formation time, VM creates/s over the API against raw etcd puts at the same concurrency on the same
 * cluster, and how long the Blixard leadership takes to move after its holder is SIGKILLed.
 */
import { randomBytes } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Etcd3 } from "etcd3";
import { keys } from "../core/keys.js";
import { ClusterService } from "../gen/blixard/v1/cluster_pb.js";
import { VmService } from "../gen/blixard/v1/vm_pb.js";
import { type BenchNode, formCluster, waitFor } from "./bench-node.js";
import { processCpuMs, selfCpuMs } from "./cpu-time.js";
import { pool } from "./pool.js";

export interface Throughput {
  concurrency: number;
  count: number;
  createsPerSec: number;
  rawPutsPerSec: number;
  /**
   * Store transactions per create on all nodes together, until the cluster is quiet again: asked for
   * by the API, scheduler and agents, and sent to etcd after group commit merged them.
   */
  txnsRequestedPerCreate: number;
  txnsSentPerCreate: number;
  /** CPU ms per create and per raw put, by process: all nodes, all etcd members, the client. */
  createCpuMs: CpuShare;
  putCpuMs: CpuShare;
}

export interface CpuShare {
  nodes: number;
  etcd: number;
  client: number;
}

function cpuNow(nodes: BenchNode[]): CpuShare {
  const share: CpuShare = { nodes: 0, etcd: 0, client: selfCpuMs() };
  for (const node of nodes) {
    const { node: pid, etcd } = node.pids();
    if (pid !== undefined) share.nodes += processCpuMs(pid);
    if (etcd !== undefined) share.etcd += processCpuMs(etcd);
  }
  return share;
}

function perOperation(before: CpuShare, after: CpuShare, count: number): CpuShare {
  return {
    nodes: (after.nodes - before.nodes) / count,
    etcd: (after.etcd - before.etcd) / count,
    client: (after.client - before.client) / count,
  };
}

export interface ClusterFigures {
  formationMs: number;
  /** Creates over the API against raw puts, at each concurrency. */
  throughput: Throughput[];
  /** Bytes per raw put: the size of a stored VM record. */
  valueBytes: number;
  ttlSeconds: number;
  failoverMs: number[];
}

function clients(node: BenchNode) {
  // Binary protobuf, as gRPC clients send; the CLI's JSON costs the node a little more per call.
  const transport = createConnectTransport({
    ...node.transportOptions(),
    httpVersion: "1.1",
    useBinaryFormat: true,
  });
  return { vms: createClient(VmService, transport), cluster: createClient(ClusterService, transport) };
}

export async function readyCluster(nodes: BenchNode[]): Promise<void> {
  await waitFor(
    "three voting members and a leader",
    async () => {
      const s = await clients(nodes[0]!)
        .cluster.getClusterStatus({})
        .catch(() => undefined);
      return (
        !!s &&
        s.leader !== "" &&
        s.members.length === nodes.length &&
        s.members.every((m) => !m.learner && m.started)
      );
    },
    120_000,
  );
}

/** The nodes' blixard_store_transactions_total, summed. */
async function storeTransactions(nodes: BenchNode[]): Promise<{ requested: number; sent: number }> {
  const total = { requested: 0, sent: 0 };
  for (const node of nodes) {
    const text = (await node.get("/metrics", true)).body;
    for (const stage of ["requested", "sent"] as const) {
      const match = new RegExp(`^blixard_store_transactions_total\\{stage="${stage}"\\} (\\d+)`, "m").exec(
        text,
      );
      total[stage] += Number(match?.[1] ?? 0);
    }
  }
  return total;
}

/**
 * The counts once the scheduler and agents have finished with the creates: fewer than 10 more in a
 * second (lease renewals and the like go on), or after 30 s.
 */
async function quietTransactions(nodes: BenchNode[]): Promise<{ requested: number; sent: number }> {
  let last = await storeTransactions(nodes);
  for (let second = 0; second < 30; second++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await storeTransactions(nodes);
    if (now.requested - last.requested < 10) return now;
    last = now;
  }
  return last;
}

export async function measureCluster(
  kernel: string,
  count: number,
  concurrency: number[],
  ttlSeconds: number,
  failovers: number,
  /**
   * `room`: the nodes hand out 64 vCPUs per core and the VMs ask for 32 MiB, so that up to 384 of
   * them are placed; by default all but 24 of the creates stay Pending (a 2-core host's 8 vCPUs a node).
   */
  options: { room?: boolean } = {},
): Promise<ClusterFigures> {
  const ttl = ["--lease-ttl", String(ttlSeconds)];
  const t0 = performance.now();
  const nodes = await formCluster(3, [...ttl, ...(options.room ? ["--cpu-overcommit", "64"] : [])]);
  try {
    await readyCluster(nodes);
    const formationMs = performance.now() - t0;

    // Any node serves the API: the creates are spread over all three, as clients of a cluster would.
    const apis = nodes.map((node) => clients(node).vms);
    // etcd takes only clients with a certificate from the cluster CA: the bench presents the first node's.
    const tls = nodes[0]!.tls()!;
    const raw = new Etcd3({
      hosts: nodes.map((n) => `https://127.0.0.1:${n.port + 1}`),
      credentials: {
        rootCertificate: Buffer.from(tls.caPem),
        certChain: Buffer.from(tls.certPem),
        privateKey: Buffer.from(tls.keyPem),
      },
    });
    let valueBytes = 0;
    const throughput: Throughput[] = [];
    for (const [round, c] of concurrency.entries()) {
      const before = await storeTransactions(nodes);
      const cpuBefore = cpuNow(nodes);
      const createSecs = await pool(count, c, (i) =>
        apis[i % apis.length]!.createVm({
          spec: { name: `vm-${round}-${i}`, kernel, ...(options.room ? { memory: 32 } : {}) },
        }),
      );
      const after = await quietTransactions(nodes);
      const cpuAfter = cpuNow(nodes);
      // The raw puts carry values as large as a stored VM record.
      const record = await raw.get(keys.vm(`vm-${round}-0`)).string();
      if (record === null) throw new Error("the VM is not in etcd under the key the store uses");
      valueBytes = Buffer.byteLength(record);
      const value = randomBytes(valueBytes).toString("base64").slice(0, valueBytes);
      const putCpuBefore = cpuNow(nodes);
      const rawSecs = await pool(count, c, (i) => raw.put(`/bench/raw/${round}/${i}`).value(value).exec());
      const putCpuAfter = cpuNow(nodes);
      throughput.push({
        concurrency: c,
        count,
        createsPerSec: count / createSecs,
        rawPutsPerSec: count / rawSecs,
        txnsRequestedPerCreate: (after.requested - before.requested) / count,
        txnsSentPerCreate: (after.sent - before.sent) / count,
        createCpuMs: perOperation(cpuBefore, cpuAfter, count),
        putCpuMs: perOperation(putCpuBefore, putCpuAfter, count),
      });
    }
    raw.close();

    const failoverMs: number[] = [];
    for (let round = 0; round < failovers; round++) {
      const status = await clients(nodes[0]!).cluster.getClusterStatus({});
      const leaderIndex = nodes.findIndex((n) => n.id === status.leader);
      if (leaderIndex < 0)
        throw new Error(`leader ${status.leader} is none of ${nodes.map((n) => n.id).join(", ")}`);
      const dead = nodes[leaderIndex]!;
      const survivor = nodes[(leaderIndex + 1) % nodes.length]!;
      const killedAt = performance.now();
      await dead.kill();
      await waitFor(
        "a new leader",
        async () => {
          const s = await clients(survivor)
            .cluster.getClusterStatus({})
            .catch(() => undefined);
          return !!s && s.leader !== "" && s.leader !== status.leader;
        },
        60_000,
      );
      failoverMs.push(performance.now() - killedAt);
      await dead.start(ttl);
      await readyCluster(nodes);
    }
    return {
      formationMs,
      throughput,
      valueBytes,
      ttlSeconds,
      failoverMs,
    };
  } finally {
    for (const node of nodes) await node.stop();
  }
}
