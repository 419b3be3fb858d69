/**
 * The command line of a managed etcd member, built as an argv array. Ports derive from the node's API
 * port (client = API + 1, peer = API + 2) unless given, so a node needs one flag to form a cluster.
 */
import { etcdMemberArgs } from "../../store/etcd/etcd-member.js";

export interface MemberConfig {
  name: string;
  dataDir: string;
  host: string;
  clientPort: number;
  peerPort: number;
  /** `name=peerURL,...` of every member, this one included. */
  initialCluster: string;
  initialClusterState: "new" | "existing";
  clusterToken: string;
  /** Keep this many hours of history before compacting (etcd's periodic auto-compaction). */
  compactionRetentionHours: number;
  /** Raft entries between snapshots. */
  snapshotCount: number;
}

export function derivePorts(apiPort: number, overrides: { client?: number; peer?: number } = {}) {
  return { clientPort: overrides.client ?? apiPort + 1, peerPort: overrides.peer ?? apiPort + 2 };
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export function clientUrl(config: Pick<MemberConfig, "host" | "clientPort">): string {
  return `http://${urlHost(config.host)}:${config.clientPort}`;
}

export function peerUrl(config: Pick<MemberConfig, "host" | "peerPort">): string {
  return `http://${urlHost(config.host)}:${config.peerPort}`;
}

/** The member's argv: the shared member flags (store/etcd/etcd-member.ts) plus compaction and snapshots. */
export function etcdArgs(config: MemberConfig): string[] {
  return etcdMemberArgs({
    name: config.name,
    dataDir: config.dataDir,
    clientUrl: clientUrl(config),
    peerUrl: peerUrl(config),
    initialCluster: config.initialCluster,
    initialClusterState: config.initialClusterState,
    initialClusterToken: config.clusterToken,
    // Not part of the argv: the supervisor opens the log itself.
    logFile: "",
    extraArgs: [
      "--auto-compaction-mode=periodic",
      `--auto-compaction-retention=${config.compactionRetentionHours}h`,
      `--snapshot-count=${config.snapshotCount}`,
    ],
  });
}
