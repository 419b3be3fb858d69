/**
 * The configuration of a managed etcd member. Ports derive from the node's API port (client = API + 1,
 * peer = API + 2) unless given, so a node needs one flag to form a cluster. The member speaks only
 * mutual TLS on both ports, with the node's certificate from the cluster CA: a client or peer without
 * a certificate signed by that CA is refused (etcd's --client-cert-auth and --peer-client-cert-auth).
 */
import { join } from "node:path";
import type { EtcdMemberConfig } from "../../store/etcd/etcd-member.js";

export interface MemberConfig {
  name: string;
  dataDir: string;
  /** The address etcd listens on and advertises to clients and peers. */
  host: string;
  clientPort: number;
  peerPort: number;
  /** `name=peerURL,...` of every member, this one included; read only when the data dir is new. */
  initialCluster: string;
  initialClusterState: "new" | "existing";
  clusterToken: string;
  /** Keep this many hours of history before compacting (etcd's periodic auto-compaction). */
  compactionRetentionHours: number;
  /** Raft entries between snapshots. */
  snapshotCount: number;
  /** The cluster CA and this node's certificate and key (pki/), for both ports. */
  tls: MemberTlsFiles;
}

export interface MemberTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export function derivePorts(apiPort: number, overrides: { client?: number; peer?: number } = {}) {
  return { clientPort: overrides.client ?? apiPort + 1, peerPort: overrides.peer ?? apiPort + 2 };
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export function clientUrl(config: Pick<MemberConfig, "host" | "clientPort">): string {
  return `https://${urlHost(config.host)}:${config.clientPort}`;
}

export function peerUrl(config: Pick<MemberConfig, "host" | "peerPort">): string {
  return `https://${urlHost(config.host)}:${config.peerPort}`;
}

/** The shared member process config (store/etcd/etcd-member.ts) plus compaction and snapshots. */
export function memberProcessConfig(config: MemberConfig, runDir: string, binary?: string): EtcdMemberConfig {
  return {
    name: config.name,
    dataDir: config.dataDir,
    clientUrl: clientUrl(config),
    peerUrl: peerUrl(config),
    initialCluster: config.initialCluster,
    initialClusterState: config.initialClusterState,
    initialClusterToken: config.clusterToken,
    logFile: join(runDir, "etcd.log"),
    ...(binary === undefined ? {} : { binary }),
    extraArgs: [
      "--auto-compaction-mode=periodic",
      `--auto-compaction-retention=${config.compactionRetentionHours}h`,
      `--snapshot-count=${config.snapshotCount}`,
      ...tlsArgs(config.tls),
    ],
  };
}

/** Mutual TLS on the client and the peer port; paths only, so no key material is on the command line. */
export function tlsArgs(tls: MemberTlsFiles): string[] {
  return [
    `--cert-file=${tls.certFile}`,
    `--key-file=${tls.keyFile}`,
    `--trusted-ca-file=${tls.caFile}`,
    "--client-cert-auth",
    `--peer-cert-file=${tls.certFile}`,
    `--peer-key-file=${tls.keyFile}`,
    `--peer-trusted-ca-file=${tls.caFile}`,
    "--peer-client-cert-auth",
  ];
}
