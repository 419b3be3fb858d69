/**
 * Reads the cluster's network settings, writing them first when this node is the first to start
 * (create-if-absent, so two first nodes agree on one). A node started with flags that differ from
 * what the cluster uses refuses to start: two ranges would give one address twice.
 */
import {
  type ClusterNetwork,
  clusterNetworkSchema,
  DEFAULT_CLUSTER_NETWORK,
  decodeClusterNetwork,
  networkMismatch,
  normalCidr,
} from "../core/cluster-network.js";
import { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import type { Store } from "../ports/store.js";

export async function ensureClusterNetwork(
  store: Store,
  requested: Partial<ClusterNetwork>,
): Promise<ClusterNetwork> {
  const wanted = clusterNetworkSchema.safeParse({ ...DEFAULT_CLUSTER_NETWORK, ...requested });
  if (!wanted.success) {
    const issue = wanted.error.issues[0]!;
    throw new BlixardError("INVALID_ARGUMENT", `cluster network ${issue.path.join(".")}: ${issue.message}`);
  }
  const normal = {
    ...wanted.data,
    vmCidr: normalCidr(wanted.data.vmCidr),
    serviceCidr: normalCidr(wanted.data.serviceCidr),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await store.get(keys.network);
    if (current) {
      const stored = decodeClusterNetwork(current.value);
      if (typeof stored === "string") {
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `the cluster's network settings (${keys.network}) cannot be read: ${stored}; restore them from a backup`,
        );
      }
      const differences = networkMismatch(stored, requested);
      if (differences.length > 0) {
        throw new BlixardError(
          "FAILED_PRECONDITION",
          `this node was started with ${differences.join(", ")}; drop the flag or start it with the cluster's value`,
        );
      }
      return stored;
    }
    const created = await store.txn({
      compare: [{ key: keys.network, target: "createRevision", op: "=", value: 0 }],
      success: [{ type: "put", key: keys.network, value: JSON.stringify(normal) }],
    });
    if (created.succeeded) return normal;
  }
  throw new BlixardError(
    "CONFLICT",
    "the cluster's network settings changed while being read; start the node again",
  );
}
