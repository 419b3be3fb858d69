/**
 * Which volume backends a node can open, from its record, and why a node cannot take a VM whose
 * volumes need backends it lacks: an RBD volume only on a node that reached Ceph when it started.
 * Pure. Plugs into placement as one more filter beside the network mode (placement.ts `whyNotAt`):
 * a Candidate's `volumeBackends` from `nodeVolumeBackends(record)`, a request's from its volumes.
 */
import type { NodeRecord } from "./node-record.js";

/** "local" on every node; "rbd" where Ceph answered with the pool (`--ceph-conf`). */
export function nodeVolumeBackends(record: Pick<NodeRecord, "ceph">): string[] {
  return record.ceph?.reachable === true ? ["local", "rbd"] : ["local"];
}

/** Why a node offering `offered` cannot open volumes of the backends `needed`, or undefined. */
export function whyNoVolumeBackend(
  record: Pick<NodeRecord, "ceph">,
  needed: readonly string[],
): string | undefined {
  const offered = nodeVolumeBackends(record);
  const missing = [...new Set(needed)].filter((b) => !offered.includes(b));
  if (missing.length === 0) return undefined;
  if (missing.includes("rbd")) {
    if (record.ceph === undefined) return "no Ceph access for RBD volumes (start the node with --ceph-conf)";
    return `Ceph unreachable for RBD volumes: ${record.ceph.reason ?? "unknown reason"}`;
  }
  return `no ${missing.join(", ")} volume backend`;
}
