/**
 * `npm run bench`: measures Blixard side by side with its baselines in one run and prints a Markdown
 * report for docs/benchmarks.md. Needs the guest image that the e2e tests build (BLIXARD_TEST_IMAGE_DIR).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { imageDir } from "../testing/test-image.js";
import { measureAgentMemory } from "./agent-memory.js";
import { measureApiThroughput } from "./api-throughput.js";
import { type CliLatency, measureCliLatency } from "./cli-latency.js";
import { type CpuShare, measureCluster } from "./cluster.js";
import { measureEtcdCallCost } from "./etcd-call-cost.js";
import { measureFailover } from "./failover.js";
import { type FunctionFigures, measureFunctions } from "./functions.js";
import { type HollowFigures, measureHollowNodes } from "./hollow-nodes.js";
import { measureJailSetup } from "./jail-setup.js";
import { measureNetThroughput, type NetFigures } from "./net-throughput.js";
import { measureOverlay } from "./overlay.js";
import { measurePlacement, measureSchedulingPass } from "./placement.js";
import { measureRbdVolumes } from "./rbd-volumes.js";
import { measureRecordCodec } from "./record-codec.js";
import { measureStartOverhead } from "./start-overhead.js";
import { fmt, median, percentile } from "./stats.js";
import { measureStoreCompaction } from "./store-compaction.js";
import { measureTlsThroughput } from "./tls-throughput.js";
import { measureUpdateCost, type UpdateCost } from "./update-cost.js";
import {
  type GuestVolumeFigures,
  measureGuestVolume,
  measureLocalVolumes,
  type VolumeFigures,
} from "./volumes.js";

const dir = imageDir();
// The kernel a node defaults to: the uncompressed vmlinux when the image has one.
const kernel =
  [join(dir, "vmlinux"), join(dir, "vmlinuz")].find((k) => existsSync(k)) ?? join(dir, "vmlinuz");
const initrd = join(dir, "initrd.img");
if (!existsSync(kernel) || !existsSync(initrd)) {
  console.error(`no guest image in ${dir}: build it with bash scripts/guest-image/build.sh ${dir}`);
  process.exit(1);
}

const cliRow = (cli: CliLatency): string =>
  `| cold \`blixard vm list\`, p50 / p95 of ${cli.listMs.length} (ms) | ${fmt(median(cli.listMs), 0)} / ${fmt(percentile(cli.listMs, 95), 0)} | \`node -e 0\`: ${fmt(median(cli.nodeBaselineMs), 0)} | ${fmt(median(cli.listMs) / median(cli.nodeBaselineMs), 2)} |
| cold \`blixard vm stop NAME --no-wait\` (the call \`vm start\` makes), p50 / p95 of ${cli.stopMs.length} (ms) | ${fmt(median(cli.stopMs), 0)} / ${fmt(percentile(cli.stopMs, 95), 0)} | \`node -e 0\`: ${fmt(median(cli.nodeBaselineMs), 0)} | ${fmt(median(cli.stopMs) / median(cli.nodeBaselineMs), 2)} |`;
const updateRows = (costs: UpdateCost[]): string =>
  costs
    .map(
      (c) =>
        `| \`vm update\` on SQLite, ${c.vms} VMs (${c.onNode} on its node), p50 of ${c.updateMs.length}: no growth / growth (counts what its node has left) (ms) | ${fmt(median(c.updateMs), 2)} / ${fmt(median(c.growMs), 2)} | \`vm restart\`: ${fmt(median(c.restartMs), 2)} | ${fmt(median(c.updateMs) / median(c.restartMs), 2)} / ${fmt(median(c.growMs) / median(c.restartMs), 2)} |`,
    )
    .join("\n");
const measureUpdates = async () => [
  await measureUpdateCost(1000, 100, 30),
  await measureUpdateCost(10_000, 100, 30),
  await measureUpdateCost(10_000, 10_000, 30),
];
// Issue 14's figures: VM-to-VM TCP across hosts vs on one host, service address vs direct, failover.
const netRounds = Number(process.env["BLIXARD_BENCH_NET_ROUNDS"] ?? 5);
const netFailovers = Number(process.env["BLIXARD_BENCH_NET_FAILOVERS"] ?? 2);
const netMib = Number(process.env["BLIXARD_BENCH_NET_MIB"] ?? 8);
const net14Rows = (n: NetFigures): string => {
  const row = (what: string, a: number[], b: number[], baseline: string) =>
    `| ${what}, MiB/s measured in the client guest, median of ${a.length} alternating pulls of ${n.mib} MiB | ${fmt(median(a), 1)} | ${baseline}: ${fmt(median(b), 1)} | ${fmt(median(a) / median(b), 2)} |`;
  return `${row("TCP VM to VM across hosts (VXLAN overlay)", n.crossHost, n.sameHost, "same two kinds of VM on one host")}
${row("TCP VM to VM through a service address (one member, other host)", n.viaService, n.direct, "the member's own address")}
| VM answering at its old address on another host after its host is cut off and its node SIGKILLed, median of ${n.failoverMs.length} losses (ms; lease TTL ${n.ttlSeconds} s, failover grace ${n.graceSeconds} s, boot) | ${fmt(median(n.failoverMs), 0)} (max ${fmt(Math.max(...n.failoverMs), 0)}) | detection bound TTL + grace: ${(n.ttlSeconds + n.graceSeconds) * 1000} | |`;
};
const measureNet14 = () => measureNetThroughput(kernel, initrd, netRounds, netMib, netFailovers);
if (process.env["BLIXARD_BENCH_ONLY"] === "net14") {
  console.error(`benchmarks: VM networking across hosts (${netRounds} rounds of ${netMib} MiB; needs root)`);
  const n = await measureNet14();
  console.log(net14Rows(n));
  console.error(
    `raw MiB/s: same host ${n.sameHost.map((v) => fmt(v, 1)).join(", ")}; across ${n.crossHost.map((v) => fmt(v, 1)).join(", ")}; service ${n.viaService.map((v) => fmt(v, 1)).join(", ")}; direct ${n.direct.map((v) => fmt(v, 1)).join(", ")}; failover ms ${n.failoverMs.map((v) => fmt(v, 0)).join(", ")}`,
  );
  process.exit(0);
}
if (process.env["BLIXARD_BENCH_ONLY"] === "net") {
  console.error("benchmarks: bridge-mode host network (needs root)");
  const o = await measureOverlay(10);
  const base = median(o.rulesMs.get(0) ?? []);
  console.log(`| bridge + VXLAN device made, median of 10 (ms) | ${fmt(median(o.firstUpMs), 1)} | converged again: ${fmt(median(o.convergeMs), 1)} | ${fmt(median(o.firstUpMs) / median(o.convergeMs), 2)} |
| 50 VXLAN peers set, median of 10 (ms) | ${fmt(median(o.peersMs), 1)} | unchanged: ${fmt(median(o.peersUnchangedMs), 1)} | ${fmt(median(o.peersMs) / median(o.peersUnchangedMs), 2)} |
${[...o.rulesMs]
  .filter(([vms]) => vms > 0)
  .map(
    ([vms, ms]) =>
      `| nftables tables applied with ${vms} VMs' anti-spoofing rules, median of 10 (ms) | ${fmt(median(ms), 1)} | no VMs: ${fmt(base, 1)} | ${fmt(median(ms) / base, 2)} |`,
  )
  .join("\n")}`);
  process.exit(0);
}
// Issue 17's figures: a function's cold start against a VM's boot, and what the gateway adds.
const fnRows = (f: FunctionFigures): string =>
  `| function cold start (no instance) through the gateway to the answer's first byte, median of ${f.coldMs.length} (ms; a full boot: no snapshot restore yet) | ${fmt(median(f.coldMs), 0)} | \`vm create --start\` of the same image to its first answer: ${fmt(median(f.bootMs), 0)} | ${fmt(median(f.coldMs) / median(f.bootMs), 2)} |
| warm request through the gateway, p50 / p95 of ${f.gatewayMs.length} to the first byte (ms) | ${fmt(median(f.gatewayMs), 2)} / ${fmt(percentile(f.gatewayMs, 95), 2)} | straight to the instance's forwarded port: ${fmt(median(f.directMs), 2)} / ${fmt(percentile(f.directMs, 95), 2)} | +${fmt(median(f.gatewayMs) - median(f.directMs), 2)} ms at p50 |
| warm requests per second through the gateway, ${f.clients} clients, one instance | ${fmt(f.reqPerSec, 0)} | | |`;
if (process.env["BLIXARD_BENCH_ONLY"] === "fn") {
  console.error("benchmarks: functions (cold start, gateway overhead)");
  console.log(
    fnRows(await measureFunctions(kernel, initrd, Number(process.env["BLIXARD_BENCH_ROUNDS"] ?? 3), 200)),
  );
  process.exit(0);
}
// Issue 15's figures; the RBD side is measured with measureVolumeBackend on an RBD backend.
const guestVolumeRow = (backend: string, g: GuestVolumeFigures): string =>
  `| guest sequential write (fsync) / read (O_DIRECT) of ${g.mib} MiB on a ${backend} volume (its vdb), by the guest's clock, median of ${g.writeMiBps.length} (MiB/s) | ${fmt(median(g.writeMiBps), 1)} / ${fmt(median(g.readMiBps), 1)} | | |`;
const volumeRows = (v: VolumeFigures): string =>
  `| create a 1 GiB ${v.backend} volume, median of ${v.createMs.length} (ms) | ${fmt(median(v.createMs), 1)} | | |
| sequential write / read of ${v.mib} MiB on a ${v.backend} volume through qemu's block layer (qemu-io on the host), median of ${v.writeMiBps.length} (MiB/s) | ${fmt(median(v.writeMiBps), 0)} / ${fmt(median(v.readMiBps), 0)} | | |`;
if (process.env["BLIXARD_BENCH_ONLY"] === "volumes") {
  console.error("benchmarks: volumes (local)");
  console.log(volumeRows(await measureLocalVolumes(5)));
  console.log(guestVolumeRow("local", await measureGuestVolume(kernel, initrd, ["--size", "1G"], 5, 256)));
  process.exit(0);
}
if (process.env["BLIXARD_BENCH_ONLY"] === "rbd") {
  const volumeRounds = Number(process.env["BLIXARD_BENCH_ROUNDS"] ?? 5);
  console.error(
    `benchmarks: RBD against local volumes (${volumeRounds} rounds; a throwaway Ceph; needs root)`,
  );
  const v = await measureRbdVolumes(volumeRounds);
  const [r, l] = [v.rbd, v.local];
  console.log(`| create a 1 GiB volume, median of ${volumeRounds} (ms) | RBD: ${fmt(median(r.createMs), 0)} | local: ${fmt(median(l.createMs), 0)} | ${fmt(median(r.createMs) / median(l.createMs), 2)} |
| sequential write through qemu's block layer, 4 MiB requests, ${v.mib} MiB, median of ${volumeRounds} (MiB/s) | RBD: ${fmt(median(r.writeMiBs), 0)} | local: ${fmt(median(l.writeMiBs), 0)} | ${fmt(median(r.writeMiBs) / median(l.writeMiBs), 2)} |
| sequential read, same (MiB/s) | RBD: ${fmt(median(r.readMiBs), 0)} | local: ${fmt(median(l.readMiBs), 0)} | ${fmt(median(r.readMiBs) / median(l.readMiBs), 2)} |`);
  console.error(
    `raw: RBD create ms ${r.createMs.map((x) => fmt(x, 0)).join(", ")}; write ${r.writeMiBs.map((x) => fmt(x, 0)).join(", ")}; read ${r.readMiBs.map((x) => fmt(x, 0)).join(", ")}; local create ${l.createMs.map((x) => fmt(x, 0)).join(", ")}; write ${l.writeMiBs.map((x) => fmt(x, 0)).join(", ")}; read ${l.readMiBs.map((x) => fmt(x, 0)).join(", ")}`,
  );
  process.exit(0);
}
if (process.env["BLIXARD_BENCH_ONLY"] === "update") {
  console.error("benchmarks: spec updates");
  console.log(updateRows(await measureUpdates()));
  process.exit(0);
}
if (process.env["BLIXARD_BENCH_ONLY"] === "cli") {
  console.error("benchmarks: CLI latency");
  console.log(cliRow(await measureCliLatency(kernel, 20)));
  process.exit(0);
}

const hollowTable = (figures: HollowFigures[]): string => {
  const first = figures[0]!;
  const last = figures.at(-1)!;
  return `Hollow nodes (production node composition, in-memory driver, many per process) against a real 3-member etcd; ${first.creates} creates at concurrency ${first.concurrency}, counted done when all report Running; CPU net of the same cluster idle; the sizes alternate over 3 rounds and each row is the round with the median etcd CPU per create:

| nodes | start to all Ready (s) | creates/s to Running | watch events per create | node transactions per create | etcd CPU ms per create | node CPU ms per create | idle CPU ms/s: etcd / nodes |
|---|---|---|---|---|---|---|---|
${figures.map((f) => `| ${f.nodes} | ${fmt(f.startSeconds, 1)} | ${fmt(f.createsPerSec, 0)} | ${fmt(f.watchEventsPerCreate, 2)} | ${fmt(f.nodeTxnsPerCreate, 2)} | ${fmt(f.etcdCpuMsPerCreate, 2)} | ${fmt(f.nodeCpuMsPerCreate, 2)} | ${fmt(f.idleEtcdCpuMsPerSec, 0)} / ${fmt(f.idleNodeCpuMsPerSec, 0)} |`).join("\n")}

From ${first.nodes} to ${last.nodes} nodes: watch events per create **${fmt(last.watchEventsPerCreate / first.watchEventsPerCreate, 2)}×**, etcd CPU per create **${fmt(last.etcdCpuMsPerCreate / first.etcdCpuMsPerCreate, 2)}×**, node CPU per create ${fmt(last.nodeCpuMsPerCreate / first.nodeCpuMsPerCreate, 2)}×.`;
};
// Issue 13's CPU per create on the 3-node cluster, alone (no failovers): BLIXARD_BENCH_ONLY=cluster.
if (process.env["BLIXARD_BENCH_ONLY"] === "cluster") {
  // BLIXARD_BENCH_CLUSTER_ROOM=1: creates the nodes have room for (placed, not Pending).
  const room = process.env["BLIXARD_BENCH_CLUSTER_ROOM"] === "1";
  const creates = Number(process.env["BLIXARD_BENCH_CLUSTER_CREATES"] ?? (room ? 180 : 1000));
  console.error(
    `benchmarks: CPU per create on the 3-node cluster (${creates} creates${room ? ", placed" : ""})`,
  );
  const alone = await measureCluster(kernel, creates, [1, 16], 5, 0, { room });
  const sum = (c: CpuShare) => c.nodes + c.etcd + c.client;
  const share = (c: CpuShare) =>
    `${fmt(c.nodes, 2)} + ${fmt(c.etcd, 2)} + ${fmt(c.client, 2)} = ${fmt(sum(c), 2)}`;
  console.log(
    alone.throughput
      .map(
        (t) =>
          `| concurrency ${t.concurrency} | create: ${share(t.createCpuMs)} (${fmt(t.createsPerSec, 0)}/s) | raw put: ${share(t.putCpuMs)} (${fmt(t.rawPutsPerSec, 0)}/s) | ${fmt(sum(t.createCpuMs) / sum(t.putCpuMs), 2)} | txns sent / asked per create: ${fmt(t.txnsSentPerCreate, 2)} / ${fmt(t.txnsRequestedPerCreate, 2)} |`,
      )
      .join("\n"),
  );
  process.exit(0);
}
const hollowCounts = (process.env["BLIXARD_BENCH_HOLLOW"] ?? "3,100,1000").split(",").map(Number);
if (process.env["BLIXARD_BENCH_ONLY"] === "hollow") {
  console.error(`benchmarks: hollow nodes (${hollowCounts.join(", ")})`);
  console.log(hollowTable(await measureHollowNodes(hollowCounts, 500, 16)));
  process.exit(0);
}

const rounds = Number(process.env["BLIXARD_BENCH_ROUNDS"] ?? 6);
console.error(`benchmarks: start overhead (${rounds} rounds)`);
const start = await measureStartOverhead(kernel, initrd, rounds);
// What Blixard adds before qemu runs (CLI, API, agent, jail, passt), free of the boot's own spread.
const spawnRow = `| start → qemu's pidfile (before the guest runs), median of ${rounds} (ms) | ${fmt(median(start.blixardSpawnMs), 0)} | bare qemu: ${fmt(median(start.bareSpawnMs), 0)} | +${fmt(median(start.blixardSpawnMs) - median(start.bareSpawnMs), 0)} ms |`;
console.error("benchmarks: jail setup");
const jailSetup = await measureJailSetup(kernel, initrd, 20);
if (process.env["BLIXARD_BENCH_ONLY"] === "start") {
  const ratio = median(start.blixardMs) / median(start.bareMs);
  console.log(`| start → readiness line, median of ${rounds} (ms) | ${fmt(median(start.blixardMs), 0)} | bare qemu: ${fmt(median(start.bareMs), 0)} | ${fmt(ratio, 3)} |
| same start, node with --isolation none (ms) | ${fmt(median(start.unjailedMs), 0)} | jailed: ${fmt(median(start.blixardMs), 0)} | ${fmt(median(start.blixardMs) / median(start.unjailedMs), 3)} |
${spawnRow}
| jail setup: uid, files, cgroups, median of 20 (ms) | ${fmt(median(jailSetup.enterMs), 1)} | | |
| jail launcher to the program, with the filesystem view, median of 20 (ms) | ${fmt(median(jailSetup.viewMs), 1)} | without the view: ${fmt(median(jailSetup.noViewMs), 1)} | ${fmt(median(jailSetup.viewMs) / median(jailSetup.noViewMs), 2)} |
| passt start until its socket, median of 20 (ms) | ${fmt(median(jailSetup.passtMs), 1)} | | |

Raw start times (ms): Blixard ${start.blixardMs.map((m) => fmt(m, 0)).join(", ")}; unjailed ${start.unjailedMs.map((m) => fmt(m, 0)).join(", ")}; bare qemu ${start.bareMs.map((m) => fmt(m, 0)).join(", ")}`);
  process.exit(0);
}
console.error("benchmarks: API throughput");
const api = await measureApiThroughput(kernel, 2000, 16);
console.error("benchmarks: API over TLS against plain HTTP");
const tls = await measureTlsThroughput(kernel, 1000, 16, 5);
console.error("benchmarks: CLI latency");
const cli = await measureCliLatency(kernel, 20);
console.error("benchmarks: agent memory");
const mem = await measureAgentMemory(kernel, initrd, 4);
console.error("benchmarks: failover of a real VM after host loss");
const failover = await measureFailover(kernel, initrd);
console.error("benchmarks: spec updates");
const updates = await measureUpdates();
console.error("benchmarks: VM networking across hosts");
const net14 = await measureNet14();
console.error("benchmarks: VM record codec");
const codec = measureRecordCodec(20_000);
console.error("benchmarks: placement");
measurePlacement(1_000, "binpack", 20_000); // JIT warm-up, not reported
const placement = [100, 1_000, 5_000, 10_000, 50_000].flatMap((size) =>
  (["binpack", "spread"] as const).map((strategy) => measurePlacement(size, strategy, 20_000)),
);
// Growth side by side: 1,000 and 50,000 nodes alternate, five pairs per strategy, median ratio.
const growth = (["binpack", "spread"] as const).map((strategy) => {
  const ratios = Array.from({ length: 5 }, () => {
    const small = measurePlacement(1_000, strategy, 20_000);
    const large = measurePlacement(50_000, strategy, 20_000);
    return large.microsEach / small.microsEach;
  });
  return { strategy, ratio: median(ratios), ratios };
});
measureSchedulingPass(1_000, 10_000, 50); // JIT warm-up, not reported
const passes = (
  [
    [100, 1_000],
    [1_000, 10_000],
    [1_000, 50_000],
    [5_000, 50_000],
  ] as const
).map(([nodes, vms]) => measureSchedulingPass(nodes, vms, 200));
// Creates that outrun the cluster's room: the Pending VMs must not cost every later create's pass.
const pendingPasses = [0, 1_000, 10_000].map((pending) => measureSchedulingPass(100, 1_000, 200, pending));
console.error("benchmarks: three-node cluster (formation, creates vs raw etcd, leader failover)");
const cluster = await measureCluster(kernel, 1000, [1, 16], 5, 3);
console.error(`benchmarks: hollow nodes (${hollowCounts.join(", ")})`);
const hollow = await measureHollowNodes(hollowCounts, 500, 16);
console.error("benchmarks: CPU per etcd call in a Node process");
const etcdCall = await measureEtcdCallCost(2000);
console.error("benchmarks: SQLite store compaction (100,000 writes)");
const compaction = await measureStoreCompaction(100_000, 10_000);
const mib = (bytes: number) => fmt(bytes / 2 ** 20, 1);

const total = (c: CpuShare) => c.nodes + c.etcd + c.client;
const cpu = (c: CpuShare) =>
  `${fmt(c.nodes, 2)} + ${fmt(c.etcd, 2)} + ${fmt(c.client, 2)} = ${fmt(total(c), 2)}`;

const bare = median(start.bareMs);
const blix = median(start.blixardMs);
console.log(`## Results (${new Date().toISOString().slice(0, 10)}, ${process.version})

| benchmark | Blixard | baseline | ratio |
|---|---|---|---|
| start → readiness line, median of ${rounds} (ms) | ${fmt(blix, 0)} | bare qemu, same argv: ${fmt(bare, 0)} | ${fmt(blix / bare, 3)} |
${spawnRow}
| jail setup: uid, files, cgroups, median of 20 (ms) | ${fmt(median(jailSetup.enterMs), 1)} | | |
| jail launcher to the program, with the filesystem view, median of 20 (ms) | ${fmt(median(jailSetup.viewMs), 1)} | without the view: ${fmt(median(jailSetup.noViewMs), 1)} | ${fmt(median(jailSetup.viewMs) / median(jailSetup.noViewMs), 2)} |
| passt start until its socket, median of 20 (ms) | ${fmt(median(jailSetup.passtMs), 1)} | | |
| VM creates/s over the API (SQLite, ${api.count} VMs, concurrency ${api.concurrency}) | ${fmt(api.createsPerSec, 0)} | | |
| VM gets/s over the API (Connect, HTTP/1.1) | ${fmt(api.getsPerSec, 0)} | | |
| VM gets/s over gRPC (HTTP/2, h2c) | ${fmt(api.grpcGetsPerSec, 0)} | Connect over HTTP/1.1: ${fmt(api.getsPerSec, 0)} | ${fmt(api.grpcGetsPerSec / api.getsPerSec, 2)} |
${
  tls
    ? `| VM gets/s over HTTPS (Connect, HTTP/1.1; node on ${tls.host}, ${tls.count} VMs, concurrency ${tls.concurrency}, median of rounds) | ${fmt(tls.tlsGetsPerSec, 0)} | plain HTTP on loopback, same run: ${fmt(tls.plainGetsPerSec, 0)} | ${fmt(tls.tlsGetsPerSec / tls.plainGetsPerSec, 2)} |
| VM gets/s over gRPC with TLS (HTTP/2, ALPN h2) | ${fmt(tls.tlsGrpcGetsPerSec, 0)} | gRPC h2c on loopback, same run: ${fmt(tls.plainGrpcGetsPerSec, 0)} | ${fmt(tls.tlsGrpcGetsPerSec / tls.plainGrpcGetsPerSec, 2)} |`
    : "| API over TLS | skipped: this host has no non-loopback IPv4 address to bind a TLS node to | | |"
}
| ListVms with ${api.count} VMs (ms) | ${fmt(api.listMs, 0)} | | |
${cliRow(cli)}
| node RSS per running VM (KiB, ${mem.vms} VMs) | ${fmt((mem.loadedKiB - mem.idleKiB) / mem.vms, 0)} | idle node: ${mem.idleKiB} KiB | |
| node RSS per stored VM (KiB, ${api.count} VMs) | ${fmt((api.rssAfterKiB - api.rssBeforeKiB) / api.count, 1)} | | |
| three nodes form a cluster (managed etcd behind mutual TLS; CA, join tokens, CSRs; start of the first to all Ready) (ms) | ${fmt(cluster.formationMs, 0)} | | |
${cluster.throughput.map((t) => `| VM creates/s over the API on the 3-node cluster (${t.count} VMs, concurrency ${t.concurrency}) | ${fmt(t.createsPerSec, 0)} | raw etcd puts/s of ${cluster.valueBytes} B, same cluster and concurrency: ${fmt(t.rawPutsPerSec, 0)} | ${fmt(t.createsPerSec / t.rawPutsPerSec, 2)} |\n| store transactions per create, all nodes (concurrency ${t.concurrency}): sent to etcd after group commit | ${fmt(t.txnsSentPerCreate, 2)} | asked for by API, scheduler and agents: ${fmt(t.txnsRequestedPerCreate, 2)} | ${fmt(t.txnsSentPerCreate / t.txnsRequestedPerCreate, 2)} |\n| CPU ms per create (concurrency ${t.concurrency}): nodes + etcd members + client | ${cpu(t.createCpuMs)} | per raw put: ${cpu(t.putCpuMs)} | ${fmt(total(t.createCpuMs) / total(t.putCpuMs), 2)} |`).join("\n")}
| CPU ms per etcd call in a Node process (etcd3 over grpc-js): get / txn / quorum-confirmed txn | ${fmt(etcdCall.get, 2)} / ${fmt(etcdCall.txn, 2)} / ${fmt(etcdCall.quorumTxn, 2)} | | |
| leader failover after SIGKILL, median of ${cluster.failoverMs.length} (ms; lease TTL ${cluster.ttlSeconds} s) | ${fmt(median(cluster.failoverMs), 0)} (max ${fmt(Math.max(...cluster.failoverMs), 0)}) | TTL + 2 s: ${(cluster.ttlSeconds + 2) * 1000} | ${fmt(Math.max(...cluster.failoverMs) / ((cluster.ttlSeconds + 2) * 1000), 2)} |
| µs to read one VM record: validating decode (core/vm-record-codec.ts) / encode | ${fmt(codec.decodeMicros, 1)} / ${fmt(codec.encodeMicros, 1)} | \`JSON.parse\` alone: ${fmt(codec.jsonParseMicros, 1)} | ${fmt(codec.decodeMicros / codec.jsonParseMicros, 1)} |
${updateRows(updates)}
${net14Rows(net14)}
| VM failover after host loss, SIGKILL → healthy on another node (ms; TTL ${failover.ttlSeconds} s + grace ${failover.graceSeconds} s + boot) | ${fmt(failover.failoverMs, 0)} | detection bound TTL + grace: ${(failover.ttlSeconds + failover.graceSeconds) * 1000} | |
| SQLite store after ${compaction.writes} status writes, compacted to ${compaction.retain} revisions: largest / final size on disk (MiB) | ${mib(compaction.compacted.maxBytes)} / ${mib(compaction.compacted.finalBytes)} | without compaction: ${mib(compaction.uncompacted.finalBytes)} | ${fmt(compaction.compacted.maxBytes / compaction.uncompacted.finalBytes, 3)} |
| status writes/s on SQLite with a compaction pass every 1,000 writes (alternating chunks) | ${fmt(compaction.compacted.writesPerSec, 0)} | without compaction: ${fmt(compaction.uncompacted.writesPerSec, 0)} | ${fmt(compaction.compacted.writesPerSec / compaction.uncompacted.writesPerSec, 2)} |
| one compaction pass, median / max (ms); the first over a never-compacted store, its longest step / its one-time conversion at open | ${fmt(median(compaction.compacted.passMs), 1)} / ${fmt(Math.max(...compaction.compacted.passMs), 1)} | ${fmt(compaction.burstPassMs, 0)}, ${fmt(compaction.burstStallMs, 0)} / ${fmt(compaction.conversionMs, 0)} | |

${hollowTable(hollow)}

Placement, production code in process (20,000 placements each, every one accounted before the next):

| nodes | strategy | placements/s | µs each |
|---|---|---|---|
${placement.map((p) => `| ${p.nodes} | ${p.strategy} | ${fmt(p.perSecond, 0)} | ${fmt(p.microsEach, 1)} |`).join("\n")}

One scheduling pass placing one new VM (core/scheduling.ts with the leader's per-node counts; 200 passes each):

| nodes | placed VMs | ms per pass |
|---|---|---|
${passes.map((p) => `| ${p.nodes} | ${p.vms} | ${fmt(p.msEach, 2)} |`).join("\n")}

The same pass with VMs Pending for want of room (already found unplaceable; 100 nodes, 1,000 placed VMs):

| Pending VMs | ms per pass |
|---|---|
${pendingPasses.map((p) => `| ${p.pending} | ${fmt(p.msEach, 3)} |`).join("\n")}

Growth of the time per placement from 1,000 to 50,000 nodes, five alternating pairs each:
${growth.map((g) => `${g.strategy} **${fmt(g.ratio, 2)}×** (${g.ratios.map((r) => fmt(r, 2)).join(", ")})`).join("; ")}.

Raw start times (ms): Blixard ${start.blixardMs.map((v) => fmt(v, 0)).join(", ")}; bare qemu ${start.bareMs.map((v) => fmt(v, 0)).join(", ")}.`);
