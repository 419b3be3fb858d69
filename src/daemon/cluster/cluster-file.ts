/**
 * `cluster.json`: what a node with a managed etcd member needs to start it again — its member
 * configuration, as it was when the node formed or joined the cluster. Present means "this node is a
 * cluster member"; `blixard cluster leave` removes it with the member's data.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { BlixardError } from "../../core/errors.js";
import { pkiLayout } from "../../pki/pki-files.js";
import type { DataDirLayout } from "../data-dir.js";

const clusterFileSchema = z.object({
  version: z.literal(1),
  memberName: z.string().min(1),
  /** etcd's member id (hex) once known. */
  memberId: z.string().optional(),
  host: z.string().min(1),
  clientPort: z.int(),
  peerPort: z.int(),
  initialCluster: z.string().min(1),
  initialClusterState: z.enum(["new", "existing"]),
  clusterToken: z.string().min(1),
  namespace: z.string(),
  /** Client URLs of the other members when this node last started: where to look for a quorum. */
  peers: z.array(z.string()),
});

export type ClusterFile = z.infer<typeof clusterFileSchema>;

export function readClusterFile(path: string): ClusterFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const parsed = clusterFileSchema.safeParse(safeJson(text));
  if (!parsed.success) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `${path} is damaged (${parsed.error.issues[0]?.message}); restore it from a backup of the data dir, or ` +
        "remove it and the etcd/ directory next to it and join the cluster again",
    );
  }
  return parsed.data;
}

export function writeClusterFile(path: string, file: ClusterFile): void {
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
}

/**
 * Forgets the membership (cluster.json, the member's data and the cluster's certificates): the next
 * start is a single node or a new join, which brings new certificates.
 */
export function forgetMembership(dirs: Pick<DataDirLayout, "clusterFile" | "etcdDir" | "root">): void {
  rmSync(dirs.clusterFile, { force: true });
  rmSync(dirs.etcdDir, { recursive: true, force: true });
  rmSync(pkiLayout(dirs.root).dir, { recursive: true, force: true });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
