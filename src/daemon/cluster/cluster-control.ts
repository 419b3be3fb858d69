/**
 * What the ClusterService needs from this node, for each way it keeps its state: a managed etcd
 * member (join, leave, snapshot), an external etcd (status, snapshot) or SQLite (backup only).
 */
import { closeSync, createReadStream, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ClusterServiceDeps, JoinApplication, JoinGrant, StoreKind } from "../../api/cluster-service.js";
import type { JoinTokens } from "../../api/join-tokens.js";
import { BlixardError } from "../../core/errors.js";
import { checkLeave } from "../../core/quorum.js";
import { signJoiner } from "../../pki/cluster-pki.js";
import type { PkiLayout } from "../../pki/pki-files.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { Random } from "../../ports/random.js";
import { type EtcdAdmin, initialClusterString } from "../../store/etcd/etcd-admin.js";
import type { SqliteStore } from "../../store/sqlite/sqlite-store.js";
import type { DataDirLayout } from "../data-dir.js";
import type { ManagedMember } from "./managed-member.js";

export interface ClusterControlContext {
  nodeId: string;
  dirs: DataDirLayout;
  pki: PkiLayout;
  clock: Clock;
  /** Join tokens, on a node with a managed member. */
  joinTokens?: JoinTokens;
  random: Random;
  logger: Logger;
  /** Exactly one of these, matching the store kind. */
  managed?: ManagedMember;
  external?: EtcdAdmin;
  sqlite?: SqliteStore;
  /** Names of the VMs assigned to this node that are not being deleted. */
  ownedVms(): Promise<string[]>;
  /** Stops the node once it has left; called after the Leave reply is on its way. */
  onLeft(): void;
}

export type ClusterControl = Omit<ClusterServiceDeps, "leader" | "nodeId">;

export function clusterControl(ctx: ClusterControlContext): ClusterControl {
  const storeKind: StoreKind = ctx.managed ? "etcd-managed" : ctx.external ? "etcd-external" : "sqlite";
  const admin = ctx.managed?.admin ?? ctx.external;
  return {
    storeKind,
    joinTokens: ctx.managed ? ctx.joinTokens : undefined,
    async members() {
      return admin ? await admin.memberStatuses() : [];
    },
    admit: (application) => admit(ctx, storeKind, application),
    leave: (force) => leave(ctx, storeKind, force),
    async backup() {
      if (admin) return { kind: "etcd-snapshot" as const, chunks: admin.snapshot() };
      if (!ctx.sqlite) throw new BlixardError("INTERNAL", "no store to back up");
      return { kind: "sqlite" as const, chunks: sqliteBackup(ctx.sqlite, ctx.dirs, ctx.random) };
    },
  };
}

async function admit(
  ctx: ClusterControlContext,
  kind: StoreKind,
  { nodeId, peerUrl, csr, hosts }: JoinApplication,
): Promise<JoinGrant> {
  const managed = ctx.managed;
  if (!managed) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      kind === "sqlite"
        ? `node ${ctx.nodeId} runs single-node on SQLite and has no cluster to join; start the first node of a cluster with --cluster-init`
        : `node ${ctx.nodeId} uses an external etcd cluster; start the new node with the same --store etcd://... instead of --join`,
    );
  }
  const members = await managed.admin.members();
  const samePeer = members.find((m) => m.peerUrls.includes(peerUrl));
  if (samePeer?.started) {
    throw new BlixardError(
      "ALREADY_EXISTS",
      `etcd member ${samePeer.name} already uses the peer URL ${peerUrl}; if that node lost its data dir, ` +
        `run \`blixard cluster leave --force\` on it or give the newcomer other ports`,
    );
  }
  const sameName = members.find((m) => m.name === nodeId && m.started);
  if (sameName) {
    throw new BlixardError(
      "ALREADY_EXISTS",
      `a node with id ${nodeId} is already a member of this cluster; a node that left rejoins with the same data dir`,
    );
  }
  // Signed before etcd learns of the member: a bad CSR changes nothing.
  const issued = await signJoiner(ctx.pki, { csrPem: csr, nodeId, hosts, now: new Date(ctx.clock.now()) });
  let id = samePeer?.id;
  let after = members;
  if (id === undefined) {
    try {
      ({ id, members: after } = await managed.admin.addLearner(peerUrl));
    } catch (err) {
      if (/too many learner/i.test(String(err))) {
        throw new BlixardError("UNAVAILABLE", "another node is joining right now; try again in a moment");
      }
      throw err;
    }
  }
  ctx.logger.info({ nodeId, peerUrl, memberId: id }, "admitted a node as an etcd learner");
  return {
    memberId: id,
    initialCluster: initialClusterString(after, { [id]: nodeId }),
    clusterToken: managed.file.clusterToken,
    endpoints: after.filter((m) => m.started && !m.learner).flatMap((m) => m.clientUrls.slice(0, 1)),
    namespace: managed.file.namespace,
    caCertificate: issued.caPem,
    caKey: issued.caKeyPem,
    certificate: issued.certPem,
  };
}

async function leave(
  ctx: ClusterControlContext,
  kind: StoreKind,
  force: boolean,
): Promise<{ remaining: number }> {
  const managed = ctx.managed;
  if (!managed) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      kind === "sqlite"
        ? `node ${ctx.nodeId} runs single-node on SQLite: there is no cluster to leave`
        : `node ${ctx.nodeId} uses an external etcd cluster and has no member to remove; stop the node instead`,
    );
  }
  const statuses = await managed.admin.memberStatuses();
  const verdict = checkLeave(
    statuses.map((m) => ({
      name: m.name,
      voting: !m.learner,
      healthy: m.started && m.error === undefined,
    })),
    managed.file.memberName,
  );
  const self = statuses.find((m) => m.name === managed.file.memberName);
  if (verdict.problem && (!force || verdict.remaining === 0 || !self)) {
    throw new BlixardError("FAILED_PRECONDITION", `cannot leave: ${verdict.problem}`);
  }
  const owned = await ctx.ownedVms();
  if (owned.length > 0 && !force) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `cannot leave: node ${ctx.nodeId} still runs ${owned.length} VM(s) (${owned.slice(0, 5).join(", ")}); ` +
        "delete them first, or pass --force to leave them assigned to a node that is gone",
    );
  }
  if (!self) throw new BlixardError("INTERNAL", "the member vanished during the leave");
  await managed.admin.remove(self.id);
  ctx.logger.info({ memberId: self.id, remaining: verdict.remaining }, "removed this node's etcd member");
  await managed.member.stop();
  setImmediate(() => ctx.onLeft());
  return { remaining: verdict.remaining };
}

async function* sqliteBackup(
  store: SqliteStore,
  dirs: DataDirLayout,
  random: Random,
): AsyncIterable<Uint8Array> {
  const file = join(dirs.root, `backup-${random.hex(6)}.db.partial`);
  try {
    // Created 0600 first: the copy holds the whole cluster state, and SQLite keeps the file's mode.
    closeSync(openSync(file, "w", 0o600));
    await store.backup(file);
    for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
      yield chunk as Buffer;
    }
  } finally {
    rmSync(file, { force: true });
  }
}
