/**
 * A process of hollow nodes for the control-plane benchmark (hollow-nodes.ts), after kubemark's hollow
 * kubelets: N nodes that each run the production composition (node/node-services.ts: registration,
 * agent, leader election, scheduler) over their own group-commit store on a shared etcd client, with
 * the in-memory driver instead of qemu. Reads commands on stdin, one per line, and answers each with
 * one JSON line: `stats` (watch events delivered to all nodes so far, store transactions they sent,
 * and whether a leader runs).
 *
 *   node dist/bench/hollow-host.js NODES ENDPOINTS[,...] CLIENTS LEASE_TTL_SECONDS
 */
import { createInterface } from "node:readline";
import { MemoryDriver } from "../drivers/memory/memory-driver.js";
import { MemoryHost } from "../drivers/memory/memory-host.js";
import { NodeServices } from "../node/node-services.js";
import { cryptoRandom } from "../platform/crypto-random.js";
import { systemClock } from "../platform/system-clock.js";
import { silentLogger } from "../ports/logger.js";
import { EtcdStore } from "../store/etcd/etcd-store.js";
import { GroupCommitStore } from "../store/group-commit/group-commit-store.js";
import { countedWatches } from "../testing/counted-watches.js";

const [count, endpoints, clientCount, ttl] = process.argv.slice(2);
const nodes = Number(count);
const clients = await Promise.all(
  Array.from({ length: Number(clientCount) }, () => EtcdStore.connect({ endpoints: endpoints!.split(",") })),
);

// One counter shared by every node's store: the watch events delivered to all of them.
const counter = { events: 0 };
const services: NodeServices[] = [];
const grouped: GroupCommitStore[] = [];
for (let i = 0; i < nodes; i++) {
  const id = `hollow-${String(i).padStart(4, "0")}`;
  const group = new GroupCommitStore(clients[i % clients.length]!);
  grouped.push(group);
  const { store } = countedWatches(group, counter);
  services.push(
    new NodeServices({
      store,
      driver: new MemoryDriver(new MemoryHost({ clock: systemClock })),
      clock: systemClock,
      logger: silentLogger,
      random: cryptoRandom,
      prober: { tcp: async () => true, http: async () => true },
      record: {
        id,
        apiUrl: `https://${id}.invalid:7001`,
        labels: {},
        capacity: { vcpus: 512, memoryMiB: 262_144, drivers: ["qemu"] },
        allowance: { reserved: { vcpus: 0, memoryMiB: 0 }, overcommit: { cpu: 1, memory: 1 } },
        startedAt: new Date(systemClock.now()).toISOString(),
      },
      leaseTtlSeconds: Number(ttl),
      scheduler: { defaultStrategy: "spread", graceMs: 60_000 },
      stopOptions: { gracefulTimeoutMs: 1000, quitTimeoutMs: 1000, killTimeoutMs: 1000 },
      // Hollow VMs never die on their own: the agents' 1 s resync is the production default all the same.
      fencing: {},
    }),
  );
}
// In batches, as nodes of a real cluster come up over a while rather than in one instant.
for (let i = 0; i < services.length; i += 50)
  await Promise.all(services.slice(i, i + 50).map((s) => s.start()));

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line === "stats") {
    const leader = services.some((s) => s.election?.isLeader);
    const sent = grouped.reduce((sum, g) => sum + g.stats.sent, 0);
    process.stdout.write(`${JSON.stringify({ delivered: counter.events, leader, sent })}\n`);
  } else if (line === "stop") {
    await Promise.all(services.map((s) => s.stop({ stopVms: false, keepLease: false })));
    await Promise.all(clients.map((c) => c.close()));
    process.exit(0);
  }
}
