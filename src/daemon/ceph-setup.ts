/**
 * Ceph access for RBD volumes (`--ceph-conf`, `--ceph-user`, `--ceph-keyring`, `--ceph-pool`): at
 * node start, the RBD backend is built and asked whether the cluster answers and has the pool, and
 * what it says goes into the node's record (`node get` shows it; placement of RBD volumes uses it).
 * A node whose Ceph does not answer still starts: its local VMs do not need Ceph.
 */
import type { NodeCeph } from "../core/node-record.js";
import type { Logger } from "../ports/logger.js";
import { RbdBackend } from "../volumes/rbd/rbd-backend.js";
import type { NodeOptions } from "./node-options.js";

export interface CephSetup {
  backend: RbdBackend;
  status: NodeCeph;
}

/** Undefined when the node was given no Ceph. */
export async function setupCeph(options: NodeOptions, log: Logger): Promise<CephSetup | undefined> {
  if (options.cephConf === undefined) return undefined;
  const backend = new RbdBackend({
    confPath: options.cephConf,
    user: options.cephUser,
    ...(options.cephKeyring === undefined ? {} : { keyringPath: options.cephKeyring }),
    defaultPool: options.cephPool,
  });
  const available = await backend.available();
  const status: NodeCeph = available.ok
    ? { reachable: true, pool: options.cephPool }
    : { reachable: false, reason: available.reason, pool: options.cephPool };
  if (available.ok) log.info({ pool: options.cephPool }, "Ceph is reachable for RBD volumes");
  else log.warn({ reason: available.reason }, "Ceph is not reachable: RBD volumes cannot run on this node");
  return { backend, status };
}
