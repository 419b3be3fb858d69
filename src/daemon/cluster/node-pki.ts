/**
 * The PKI of a node that has no managed etcd member but serves TLS (it binds beyond loopback):
 * - on SQLite it creates its own CA once;
 * - on an external etcd over TLS (`etcd+https://`) the nodes share one CA through the store, so that
 *   they verify each other's certificates on node-to-node calls: the first node puts a new CA under
 *   /blixard/v1/pki/ca (create-if-absent), the others take it. Whoever can read that key can mint node
 *   certificates, which is no more than etcd access already grants (it can rewrite every VM record);
 *   over plain `etcd://` the CA is not shared, since it would cross the network in the clear.
 * Each node then issues its own certificate, and renews it on a start within 30 days of its expiry.
 */
import { z } from "zod";
import { BlixardError } from "../../core/errors.js";
import { keys } from "../../core/keys.js";
import { createClusterCa, loadCa } from "../../pki/cluster-ca.js";
import { initClusterPki, renewNodeCertIfDue } from "../../pki/cluster-pki.js";
import { issueOwnNodeCert } from "../../pki/node-cert.js";
import { hasPki, type NodeTls, type PkiLayout, readNodeTls, writePki } from "../../pki/pki-files.js";
import type { Store } from "../../ports/store.js";

const sharedCaSchema = z.object({ certPem: z.string().min(1), keyPem: z.string().min(1) });

export interface NodePkiContext {
  pki: PkiLayout;
  nodeId: string;
  hosts: readonly string[];
  now: Date;
  /** The store, when the CA is to be shared through it (external etcd over TLS). */
  shareThrough?: Store;
}

export async function standaloneNodePki(ctx: NodePkiContext): Promise<NodeTls> {
  if (hasPki(ctx.pki)) {
    await renewNodeCertIfDue(ctx.pki, ctx.nodeId, ctx.hosts, ctx.now);
    return readNodeTls(ctx.pki);
  }
  if (!ctx.shareThrough) {
    await initClusterPki(ctx.pki, ctx.nodeId, ctx.hosts, ctx.now);
    return readNodeTls(ctx.pki);
  }
  const ca = await sharedCa(ctx.shareThrough, ctx.nodeId, ctx.now);
  const own = await issueOwnNodeCert(await loadCa(ca), ctx.nodeId, ctx.hosts, ctx.now);
  writePki(ctx.pki, { caPem: ca.certPem, caKeyPem: ca.keyPem, ...own });
  return readNodeTls(ctx.pki);
}

async function sharedCa(
  store: Store,
  nodeId: string,
  now: Date,
): Promise<{ certPem: string; keyPem: string }> {
  const existing = await store.get(keys.clusterCa);
  if (existing) return parse(existing.value);
  const fresh = await createClusterCa(nodeId, now);
  const put = await store.txn({
    compare: [{ key: keys.clusterCa, target: "createRevision", op: "=", value: 0 }],
    success: [{ type: "put", key: keys.clusterCa, value: JSON.stringify(fresh) }],
    confirmQuorum: true,
  });
  if (put.succeeded) return fresh;
  // Another node created it first: use theirs.
  const winner = await store.get(keys.clusterCa);
  if (!winner)
    throw new BlixardError("UNAVAILABLE", "the cluster CA vanished from the store while it was created");
  return parse(winner.value);
}

function parse(value: string): { certPem: string; keyPem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    raw = undefined;
  }
  const result = sharedCaSchema.safeParse(raw);
  if (!result.success) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `the cluster CA in the store (${keys.clusterCa}) is damaged; delete that key so that a node creates a new one`,
    );
  }
  return result.data;
}
