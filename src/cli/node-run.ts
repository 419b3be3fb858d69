/**
 * `blixard node` itself: runs the daemon in the foreground until SIGINT or SIGTERM. Loaded only by
 * that command, so that client commands never pay for the daemon's imports.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parseLabels } from "../core/node-record.js";
import { parseNodeOptions } from "../daemon/node-options.js";
import { runNode } from "../daemon/run-node.js";
import { UsageError } from "./usage-error.js";

export interface NodeFlags {
  dataDir?: string;
  bind?: string;
  gatewayBind?: string;
  accel?: string;
  microvmNix?: string;
  isolation?: string;
  stopVmsOnExit?: boolean;
  logLevel?: string;
  gracefulStopTimeout?: string;
  label?: string[];
  leaseTtl?: string;
  store?: string;
  clusterInit?: boolean;
  join?: string;
  discover?: string;
  token?: string;
  tokenFile?: string;
  advertiseHost?: string;
  etcdClientPort?: string;
  etcdPeerPort?: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUsername?: string;
  etcdPasswordFile?: string;
  restore?: string;
  reserveVcpus?: string;
  reserveMemory?: string;
  cpuOvercommit?: string;
  memoryOvercommit?: string;
  placementStrategy?: string;
  failoverGrace?: string;
  acceptEmptyStore?: boolean;
  consoleLogMaxBytes?: string;
  vmCidr?: string;
  serviceCidr?: string;
  clusterDomain?: string;
  bridgeNetwork?: string;
  maxRequestBytes?: string;
  storeCompactionInterval?: string;
  storeCompactionRetain?: string;
  cephConf?: string;
  cephUser?: string;
  cephKeyring?: string;
  cephPool?: string;
}

/** A number flag; its range is checked with the other options, where the error names the flag. */
const numberFlag = (value: string | undefined) => (value === undefined ? undefined : Number(value));

export async function runDaemon(program: Command, flags: NodeFlags): Promise<void> {
  // --data-dir is also a global option (the CLI reads the token from it); commander gives it to the
  // program when both define it, so take it from there too.
  const dataDir = flags.dataDir ?? program.opts<{ dataDir?: string }>().dataDir;
  // Likewise --token-file, which the client commands read their API token from.
  const tokenFile = flags.tokenFile ?? program.opts<{ tokenFile?: string }>().tokenFile;
  const options = parseNodeOptions({
    dataDir,
    bind: flags.bind,
    gatewayBind: flags.gatewayBind,
    accel: flags.accel,
    microvmNix: flags.microvmNix,
    isolation: flags.isolation,
    stopVmsOnExit: flags.stopVmsOnExit ?? false,
    logLevel: flags.logLevel,
    gracefulStopSeconds: numberFlag(flags.gracefulStopTimeout),
    labels: parseLabels(flags.label ?? []),
    leaseTtlSeconds: numberFlag(flags.leaseTtl),
    store: flags.store,
    clusterInit: flags.clusterInit ?? false,
    join: flags.join,
    discover: flags.discover,
    token: tokenFile === undefined ? flags.token : readTokenFile(tokenFile, flags.token),
    advertiseHost: flags.advertiseHost,
    etcdClientPort: numberFlag(flags.etcdClientPort),
    etcdPeerPort: numberFlag(flags.etcdPeerPort),
    etcdCacert: flags.etcdCacert,
    etcdCert: flags.etcdCert,
    etcdKey: flags.etcdKey,
    etcdUsername: flags.etcdUsername,
    etcdPasswordFile: flags.etcdPasswordFile,
    restore: flags.restore,
    reserveVcpus: numberFlag(flags.reserveVcpus),
    reserveMemory: numberFlag(flags.reserveMemory),
    cpuOvercommit: numberFlag(flags.cpuOvercommit),
    memoryOvercommit: numberFlag(flags.memoryOvercommit),
    placementStrategy: flags.placementStrategy,
    failoverGraceSeconds: numberFlag(flags.failoverGrace),
    acceptEmptyStore: flags.acceptEmptyStore ?? false,
    consoleLogMaxBytes: numberFlag(flags.consoleLogMaxBytes),
    maxRequestBytes: numberFlag(flags.maxRequestBytes),
    storeCompactionInterval: numberFlag(flags.storeCompactionInterval),
    storeCompactionRetain: numberFlag(flags.storeCompactionRetain),
    vmCidr: flags.vmCidr,
    serviceCidr: flags.serviceCidr,
    clusterDomain: flags.clusterDomain,
    bridgeNetwork: flags.bridgeNetwork,
    cephConf: flags.cephConf,
    cephUser: flags.cephUser,
    cephKeyring: flags.cephKeyring,
    cephPool: flags.cephPool,
  });
  // Listening before the node starts: a signal that arrives while it starts (its API may answer
  // already) stops it cleanly once it has started, instead of killing it with its etcd member
  // and watchdog left behind.
  let started = false;
  const signalled = new Promise<"signal">((resolve) => {
    const stop = () => {
      if (!started) process.stderr.write("stopping once started (signal again to stop at once)\n");
      resolve("signal");
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const running = await runNode(options);
  started = true;
  process.stderr.write(
    `blixard node ${running.nodeId} serving ${running.url} (data dir ${options.dataDir})\n`,
  );
  if ((await Promise.race([signalled, running.stopped])) === "left") {
    process.stderr.write(`node ${running.nodeId} left the cluster and stopped\n`);
    return;
  }
  process.stderr.write("shutting down (VMs keep running unless --stop-vms-on-exit)\n");
  await running.shutdown();
}

/** The token in `path`; a token given twice (--token and --token-file) is refused rather than guessed. */
function readTokenFile(path: string, given: string | undefined): string {
  if (given !== undefined)
    throw new UsageError("give the cluster token either with --token or with --token-file");
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new UsageError(
      `cannot read --token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
