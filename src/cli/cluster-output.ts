/** Rendering for `blixard cluster ...`: the status sections, etcd member rows and the one-line summaries. */
import type { EtcdMember, GetClusterStatusResponse } from "../gen/blixard/v1/cluster_pb.js";
import type { Node } from "../gen/blixard/v1/node_pb.js";
import { nodeJson, nodeTable, renderTable } from "./output.js";

export type BackupKind = "etcd-snapshot" | "sqlite";

/** leader, follower or learner; unstarted before the member first runs; unreachable when it did not answer. */
export function memberStatus(m: EtcdMember): string {
  if (!m.started) return "unstarted";
  if (m.error !== "") return `unreachable: ${m.error}`;
  if (m.learner) return "learner";
  return m.leader ? "leader" : "follower";
}

/** Whether the member's own status endpoint answered, so its raft numbers mean something. */
const answered = (m: EtcdMember) => m.started && m.error === "";

export function memberJson(m: EtcdMember): Record<string, unknown> {
  const ok = answered(m);
  return {
    id: m.id,
    name: m.name,
    status: memberStatus(m),
    learner: m.learner,
    started: m.started,
    leader: m.leader,
    peerUrls: [...m.peerUrls],
    clientUrls: [...m.clientUrls],
    raftTerm: ok ? Number(m.raftTerm) : null,
    raftIndex: ok ? Number(m.raftIndex) : null,
    dbSizeBytes: ok ? Number(m.dbSizeBytes) : null,
    version: ok ? m.version : null,
    error: m.error === "" ? null : m.error,
  };
}

/** The documented JSON shape of `cluster status`. */
export function clusterJson(status: GetClusterStatusResponse, nodes: Node[]): Record<string, unknown> {
  return {
    store: status.store,
    leader: status.leader || null,
    answeredBy: status.nodeId,
    nodes: nodes.map(nodeJson),
    members: status.members.map(memberJson),
  };
}

export function memberTable(members: EtcdMember[]): string {
  const rows = members.map((m) => {
    const ok = answered(m);
    return [
      m.name || "-",
      m.id,
      memberStatus(m),
      m.peerUrls.join(",") || "-",
      m.clientUrls.join(",") || "-",
      ok ? String(m.raftTerm) : "-",
      ok ? String(m.raftIndex) : "-",
      ok ? formatBytes(m.dbSizeBytes) : "-",
      (ok && m.version) || "-",
    ];
  });
  return renderTable(
    ["NAME", "ID", "STATUS", "PEER URL", "CLIENT URL", "RAFT TERM", "RAFT INDEX", "DB SIZE", "VERSION"],
    rows,
  );
}

/** Three sections: the store and Blixard leader, the nodes, and the etcd members. */
export function clusterTable(status: GetClusterStatusResponse, nodes: Node[]): string {
  const summary = [
    `Store:          ${status.store}`,
    `Blixard leader: ${status.leader || "(none)"}`,
    `Answered by:    ${status.nodeId}`,
  ].join("\n");
  const members =
    status.store === "sqlite"
      ? "This node runs single-node on SQLite: there are no etcd members.\n"
      : status.members.length === 0
        ? "(none reported)\n"
        : memberTable(status.members);
  return `${summary}\n\nNODES\n${nodeTable(nodes)}\nETCD MEMBERS\n${members}`;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 512 B, 1.5 KiB, 24 MiB: one decimal below 10 of a unit. */
export function formatBytes(bytes: number | bigint): string {
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

export function leaveMessage(nodeId: string, remaining: number): string {
  const members = remaining === 1 ? "1 voting member remains" : `${remaining} voting members remain`;
  return (
    `node ${nodeId} left the cluster; ${members}. To rejoin: blixard node --join <another node's address> ` +
    `--token <token> --data-dir <same dir>\n`
  );
}

export function isBackupKind(kind: string): kind is BackupKind {
  return kind === "etcd-snapshot" || kind === "sqlite";
}

export function restoreHint(kind: BackupKind, file: string): string {
  const init = kind === "etcd-snapshot" ? "--cluster-init " : "";
  return `blixard node ${init}--restore ${shellWord(file)} --data-dir <new dir>`;
}

export function backupMessage(kind: BackupKind, bytes: number, file: string): string {
  return `wrote ${kind} backup of ${formatBytes(bytes)} to ${file}; restore with: ${restoreHint(kind, file)}\n`;
}

/** The path as one shell word, quoted only when it needs to be, so the hint can be pasted. */
function shellWord(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
