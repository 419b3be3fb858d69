/**
 * The control plane at scale, after kubemark: N hollow nodes (hollow-host.ts: the production node
 * composition with the in-memory driver, many per process) against a real 3-member etcd on loopback,
 * for N = 3, 100, 1,000 side by side in one run. VMs are created through the API's repository at a
 * fixed concurrency and counted done when every one reports Running. Per create: the watch events
 * delivered to all nodes, etcd's CPU (three members) and the nodes' CPU, each net of what the same
 * cluster spends idle (lease renewals, resyncs) over the same time; and creates/s to Running.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { VmRepository } from "../api/vm-repository.js";
import { keys } from "../core/keys.js";
import { vmStatusCodec } from "../core/store-codecs.js";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { systemClock } from "../platform/system-clock.js";
import { LocalEtcdCluster } from "../store/etcd/etcd-cluster.js";
import { EtcdStore } from "../store/etcd/etcd-store.js";
import { REPO, waitFor } from "./bench-node.js";
import { processCpuMs } from "./cpu-time.js";
import { pool } from "./pool.js";

export interface HollowFigures {
  nodes: number;
  creates: number;
  concurrency: number;
  createsPerSec: number;
  watchEventsPerCreate: number;
  /** Store transactions the nodes sent to etcd per create (group commit merges each node's own). */
  nodeTxnsPerCreate: number;
  etcdCpuMsPerCreate: number;
  nodeCpuMsPerCreate: number;
  /** What the idle cluster spends per second: etcd members and the nodes' process. */
  idleEtcdCpuMsPerSec: number;
  idleNodeCpuMsPerSec: number;
  startSeconds: number;
}

const LEASE_TTL_SECONDS = 5; // the default of `blixard node --lease-ttl`
const IDLE_WINDOW_MS = 5_000;

/** The hollow nodes' process, asked for its counters over stdin/stdout. */
class HollowHost {
  private readonly lines: Interface;
  private readonly replies: ((line: string) => void)[] = [];

  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! });
    this.lines.on("line", (line) => this.replies.shift()?.(line));
  }

  static start(nodes: number, endpoints: string[], clients: number): HollowHost {
    const child = spawn(
      process.execPath,
      [
        join(REPO, "dist/bench/hollow-host.js"),
        String(nodes),
        endpoints.join(","),
        String(clients),
        String(LEASE_TTL_SECONDS),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    return new HollowHost(child);
  }

  stats(): Promise<{ delivered: number; leader: boolean; sent: number }> {
    return new Promise((resolve) => {
      this.replies.push((line) => resolve(JSON.parse(line)));
      this.child.stdin!.write("stats\n");
    });
  }

  cpuMs(): number {
    return processCpuMs(this.child.pid!);
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.stdin!.write("stop\n");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
    this.lines.close();
  }
}

/**
 * Each size `rounds` times, the sizes alternating so that all see the same machine load; per size the
 * round with the median etcd CPU per create is reported (the noisiest figure on a shared machine).
 */
export async function measureHollowNodes(
  counts: readonly number[],
  creates: number,
  concurrency: number,
  rounds = 3,
): Promise<HollowFigures[]> {
  const runs = new Map<number, HollowFigures[]>(counts.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (const nodes of counts) runs.get(nodes)!.push(await measureOne(nodes, creates, concurrency));
  }
  return counts.map((nodes) => {
    const sorted = [...runs.get(nodes)!].sort((a, b) => a.etcdCpuMsPerCreate - b.etcdCpuMsPerCreate);
    return sorted[Math.floor(sorted.length / 2)]!;
  });
}

async function measureOne(nodes: number, creates: number, concurrency: number): Promise<HollowFigures> {
  const cluster = await LocalEtcdCluster.start({ size: 3 });
  const client = await EtcdStore.connect({ endpoints: cluster.endpoints });
  let host: HollowHost | undefined;
  try {
    const etcdCpu = () => [0, 1, 2].reduce((sum, i) => sum + processCpuMs(cluster.pid(i) ?? 0), 0);
    const t0 = performance.now();
    host = HollowHost.start(nodes, cluster.endpoints, Math.min(nodes, 8));
    const h = host;
    await waitFor(
      `${nodes} hollow nodes Ready and a leader`,
      async () => (await client.range(keys.alivePrefix)).kvs.length === nodes && (await h.stats()).leader,
      300_000,
    );
    const startSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2_000));

    // The same cluster idle, over a fixed window: what creates are measured against.
    const idle0 = { etcd: etcdCpu(), node: host.cpuMs(), at: performance.now() };
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const idleSecs = (performance.now() - idle0.at) / 1000;
    const idleEtcd = (etcdCpu() - idle0.etcd) / idleSecs;
    const idleNode = (host.cpuMs() - idle0.node) / idleSecs;

    const repo = new VmRepository(client, systemClock, "bench");
    const names = Array.from({ length: creates }, (_, i) => `vm-${i}`);
    const before = { etcd: etcdCpu(), node: host.cpuMs(), ...(await host.stats()) };
    const c0 = performance.now();
    await pool(creates, concurrency, (i) => repo.create(record(names[i]!)));
    await waitFor(
      `${creates} VMs Running`,
      async () => {
        const { kvs } = await client.range(keys.statusPrefix);
        return (
          kvs.filter((kv) => {
            const status = vmStatusCodec.decode(kv.value);
            return status.ok && status.value.phase === "Running";
          }).length === creates
        );
      },
      300_000,
    );
    const secs = (performance.now() - c0) / 1000;
    const after = { etcd: etcdCpu(), node: host.cpuMs(), ...(await host.stats()) };
    return {
      nodes,
      creates,
      concurrency,
      createsPerSec: creates / secs,
      watchEventsPerCreate: (after.delivered - before.delivered) / creates,
      nodeTxnsPerCreate: (after.sent - before.sent) / creates,
      etcdCpuMsPerCreate: (after.etcd - before.etcd - idleEtcd * secs) / creates,
      nodeCpuMsPerCreate: (after.node - before.node - idleNode * secs) / creates,
      idleEtcdCpuMsPerSec: idleEtcd,
      idleNodeCpuMsPerSec: idleNode,
      startSeconds,
    };
  } finally {
    await host?.stop();
    await client.close();
    await cluster.destroy();
  }
}

function record(name: string): VmRecord {
  return {
    name,
    spec: parseVmSpec({ name, kernel: "/srv/images/vmlinux", vcpus: 1, memory: 64 }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: new Date(systemClock.now()).toISOString(),
  };
}
