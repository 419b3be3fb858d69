/**
 * The command line of a managed etcd member, built as an argv array. Ports derive from the node's API
 * port (client = API + 1, peer = API + 2) unless given, so a node needs one flag to form a cluster.
 */
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

export function etcdArgs(config: MemberConfig): string[] {
  const client = clientUrl(config);
  const peer = peerUrl(config);
  return [
    "--name",
    config.name,
    "--data-dir",
    config.dataDir,
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    config.initialCluster,
    "--initial-cluster-state",
    config.initialClusterState,
    "--initial-cluster-token",
    config.clusterToken,
    "--auto-compaction-mode",
    "periodic",
    "--auto-compaction-retention",
    `${config.compactionRetentionHours}h`,
    "--snapshot-count",
    String(config.snapshotCount),
    // Refuse to start a member whose data dir belongs to another cluster rather than corrupt it.
    "--strict-reconfig-check",
    "--logger",
    "zap",
    "--log-outputs",
    "stderr",
  ];
}
