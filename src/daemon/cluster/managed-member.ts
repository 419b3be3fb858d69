/**
 * Starting this node's managed etcd member in one of three ways:
 * - `--cluster-init`: a new one-member cluster (optionally seeded from a snapshot with --restore);
 * - `--join ADDR` / `--discover tailscale`: a member node admits us as a learner and tells us the
 *   initial cluster; we start with state "existing", then promote ourselves once caught up;
 * - a node that is already a member (cluster.json exists) restarts its member, whatever the flags.
 */
import { BlixardError } from "../../core/errors.js";
import { parseJoinToken } from "../../core/join-token.js";
import { joinCandidates, readTailscaleStatus } from "../../discovery/tailscale.js";
import { initClusterPki, renewNodeCertIfDue, storeJoinedPki } from "../../pki/cluster-pki.js";
import { createNodeCsr } from "../../pki/node-cert.js";
import { hasPki, type NodeTls, type PkiLayout, readNodeTls } from "../../pki/pki-files.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { Random } from "../../ports/random.js";
import { EtcdAdmin } from "../../store/etcd/etcd-admin.js";
import { restoreSnapshot } from "../../store/etcd/etcd-snapshot-restore.js";
import { isSqliteFile } from "../../store/sqlite/restore-backup.js";
import type { DataDirLayout } from "../data-dir.js";
import { clientUrl, derivePorts, type MemberConfig, peerUrl } from "../etcd/etcd-args.js";
import { assertPortFree, ManagedEtcd } from "../etcd/managed-etcd.js";
import { advertisedHost, type NodeOptions } from "../node-options.js";
import { type ClusterFile, forgetMembership, readClusterFile, writeClusterFile } from "./cluster-file.js";
import { requestJoin } from "./join-client.js";
import { nodeHosts } from "./node-hosts.js";

export interface ManagedMember {
  member: ManagedEtcd;
  admin: EtcdAdmin;
  file: ClusterFile;
  /** Client URLs of every started member, this node's first. */
  endpoints: string[];
  /** This node's certificate and the cluster CA: for etcd, the API and calls to other nodes. */
  tls: NodeTls;
  /** True when this start formed the cluster (--cluster-init): the node creates the bootstrap join token. */
  formed: boolean;
}

export interface MemberContext {
  options: NodeOptions;
  dirs: DataDirLayout;
  nodeId: string;
  /** The join token (--token), when joining. */
  token: string | undefined;
  pki: PkiLayout;
  clock: Clock;
  random: Random;
  logger: Logger;
}

const COMPACTION_RETENTION_HOURS = 1;
const SNAPSHOT_COUNT = 10_000;

/** Starts the member when this node runs one; undefined for single nodes and external etcd. */
export async function startManagedMember(ctx: MemberContext): Promise<ManagedMember | undefined> {
  const { options, dirs } = ctx;
  const existing = readClusterFile(dirs.clusterFile);
  if (existing) {
    if (options.store.kind === "etcd") {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `${dirs.root} belongs to a member of a managed cluster (${dirs.clusterFile}); drop --store, or use another data dir`,
      );
    }
    if (options.clusterInit || options.join || options.discover) {
      ctx.logger.info(
        { member: existing.memberName },
        "already a cluster member: restarting its etcd member",
      );
    }
    return restart(ctx, existing);
  }
  if (options.clusterInit) return init(ctx);
  if (options.join !== undefined || options.discover !== undefined) return join(ctx);
  return undefined;
}

function memberConfig(ctx: MemberContext, file: ClusterFile): MemberConfig {
  return {
    name: file.memberName,
    dataDir: ctx.dirs.etcdDataDir,
    host: file.host,
    clientPort: file.clientPort,
    peerPort: file.peerPort,
    initialCluster: file.initialCluster,
    initialClusterState: file.initialClusterState,
    clusterToken: file.clusterToken,
    compactionRetentionHours: COMPACTION_RETENTION_HOURS,
    snapshotCount: SNAPSHOT_COUNT,
    tls: { caFile: ctx.pki.caCert, certFile: ctx.pki.nodeCert, keyFile: ctx.pki.nodeKey },
  };
}

function launch(ctx: MemberContext, file: ClusterFile, healthTimeoutMs: number): Promise<ManagedEtcd> {
  return ManagedEtcd.start({
    config: memberConfig(ctx, file),
    runDir: ctx.dirs.etcdDir,
    logger: ctx.logger,
    clock: ctx.clock,
    healthTimeoutMs,
    onWaiting: (waitedMs) =>
      ctx.logger.warn(
        { waitedSeconds: Math.round(waitedMs / 1000), otherMembers: file.peers },
        "waiting for etcd to have a quorum: start the other members of the cluster",
      ),
  });
}

function newMemberFile(
  ctx: MemberContext,
): Omit<ClusterFile, "initialCluster" | "initialClusterState" | "clusterToken" | "namespace" | "peers"> {
  const ports = derivePorts(ctx.options.bind.port, {
    ...(ctx.options.etcdClientPort === undefined ? {} : { client: ctx.options.etcdClientPort }),
    ...(ctx.options.etcdPeerPort === undefined ? {} : { peer: ctx.options.etcdPeerPort }),
  });
  return { version: 1, memberName: ctx.nodeId, host: advertisedHost(ctx.options), ...ports };
}

async function init(ctx: MemberContext): Promise<ManagedMember> {
  const base = newMemberFile(ctx);
  const file: ClusterFile = {
    ...base,
    initialCluster: `${base.memberName}=${peerUrl(base)}`,
    initialClusterState: "new",
    clusterToken: `blixard-${ctx.random.hex(8)}`,
    namespace: "",
    peers: [],
  };
  await assertPortFree(file.host, file.clientPort, "etcd client", "--etcd-client-port");
  await assertPortFree(file.host, file.peerPort, "etcd peer", "--etcd-peer-port");
  let member: ManagedEtcd;
  try {
    if (ctx.options.restore !== undefined) {
      if (isSqliteFile(ctx.options.restore)) {
        throw new BlixardError(
          "INVALID_ARGUMENT",
          `--restore: ${ctx.options.restore} is a single node's SQLite backup; restore it without --cluster-init`,
        );
      }
      await restoreSnapshot({
        file: ctx.options.restore,
        dataDir: ctx.dirs.etcdDataDir,
        name: file.memberName,
        peerUrl: peerUrl(file),
        initialClusterToken: file.clusterToken,
      });
      ctx.logger.info({ from: ctx.options.restore }, "restored the etcd snapshot");
    }
    await initClusterPki(ctx.pki, ctx.nodeId, nodeHosts(ctx.options), new Date(ctx.clock.now()));
    ctx.logger.info({ dir: ctx.pki.dir }, "created the cluster CA and this node's certificate");
    writeClusterFile(ctx.dirs.clusterFile, file);
    member = await launch(ctx, file, 30_000);
  } catch (err) {
    // A formation that failed before its member ever ran: the next attempt starts clean.
    forgetMembership(ctx.dirs);
    throw err;
  }
  ctx.logger.info({ url: member.url }, "formed a new cluster");
  return finish(ctx, file, member, [member.url], true);
}

async function join(ctx: MemberContext): Promise<ManagedMember> {
  if (ctx.token === undefined)
    throw new BlixardError("INVALID_ARGUMENT", "--token: joining needs a join token");
  const token = parseJoinToken(ctx.token);
  const base = newMemberFile(ctx);
  await assertPortFree(base.host, base.clientPort, "etcd client", "--etcd-client-port");
  await assertPortFree(base.host, base.peerPort, "etcd peer", "--etcd-peer-port");
  const candidates =
    ctx.options.join !== undefined
      ? [ctx.options.join]
      : await tailscaleCandidates(ctx.options.bind.port, ctx.logger);
  const hosts = nodeHosts(ctx.options);
  const { keyPem, csrPem } = await createNodeCsr(ctx.nodeId);
  const { via, grant } = await requestJoin({
    candidates,
    token,
    nodeId: ctx.nodeId,
    peerUrl: peerUrl(base),
    csrPem,
    hosts,
    clock: ctx.clock,
    logger: ctx.logger,
  });
  storeJoinedPki(
    ctx.pki,
    { caPem: grant.caCertificate, caKeyPem: grant.caKey, certPem: grant.certificate },
    keyPem,
    token.caFingerprint,
  );
  ctx.logger.info({ via, memberId: grant.memberId }, "admitted as an etcd learner; starting the member");
  const file: ClusterFile = {
    ...base,
    memberId: grant.memberId,
    initialCluster: grant.initialCluster,
    initialClusterState: "existing",
    clusterToken: grant.clusterToken,
    namespace: grant.namespace,
    peers: grant.endpoints,
  };
  writeClusterFile(ctx.dirs.clusterFile, file);
  const member = await launch(ctx, file, 120_000);
  return finish(ctx, file, member, grant.endpoints, false);
}

async function restart(ctx: MemberContext, file: ClusterFile): Promise<ManagedMember> {
  const explicit =
    (ctx.options.etcdClientPort !== undefined && ctx.options.etcdClientPort !== file.clientPort) ||
    (ctx.options.etcdPeerPort !== undefined && ctx.options.etcdPeerPort !== file.peerPort);
  if (explicit) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `this node's etcd member uses client port ${file.clientPort} and peer port ${file.peerPort} ` +
        `(${ctx.dirs.clusterFile}); drop --etcd-client-port/--etcd-peer-port or leave and rejoin the cluster`,
    );
  }
  if (!hasPki(ctx.pki)) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `this node is a cluster member (${ctx.dirs.clusterFile}) but has no certificates in ${ctx.pki.dir}; ` +
        "restore pki/ from a backup of the data dir, or remove cluster.json and etcd/ and join again",
    );
  }
  if (await renewNodeCertIfDue(ctx.pki, ctx.nodeId, nodeHosts(ctx.options), new Date(ctx.clock.now()))) {
    ctx.logger.info(
      { file: ctx.pki.nodeCert },
      "renewed this node's certificate (it expired within 30 days)",
    );
  }
  const member = await launch(ctx, file, Number.POSITIVE_INFINITY);
  return finish(ctx, file, member, [member.url, ...file.peers], false);
}

/** Promotes the member if it is still a learner, then records where the other members are. */
async function finish(
  ctx: MemberContext,
  file: ClusterFile,
  member: ManagedEtcd,
  adminEndpoints: string[],
  formed: boolean,
): Promise<ManagedMember> {
  const own = clientUrl(file);
  const tls = readNodeTls(ctx.pki);
  const withAdmin = <T>(endpoints: string[], fn: (admin: EtcdAdmin) => Promise<T>) =>
    withEtcdAdmin(endpoints, tls, fn);
  const voters = adminEndpoints.filter((url) => url !== own);
  try {
    const members = await withAdmin(voters.length > 0 ? voters : [own], (admin) => admin.members());
    const self = members.find(
      (m) => m.name === file.memberName || (file.memberId !== undefined && m.id === file.memberId),
    );
    if (!self) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `this node's etcd member (${file.memberName}) is no longer in the cluster; it was removed. Remove ` +
          `${ctx.dirs.clusterFile} and ${ctx.dirs.etcdDir}, then join again with --join ADDR --token T`,
      );
    }
    if (self.learner) {
      await withAdmin(voters, (admin) =>
        admin.promote(self.id, {
          timeoutMs: 120_000,
          onWait: (attempt, lastError) =>
            ctx.logger.info({ attempt, reason: lastError }, "waiting for the new etcd member to catch up"),
        }),
      );
      ctx.logger.info({ memberId: self.id }, "promoted this node's etcd member to a voting member");
    }
    const others = members
      .filter((m) => m.id !== self.id && m.started)
      .flatMap((m) => m.clientUrls.slice(0, 1));
    const updated: ClusterFile = { ...file, memberId: self.id, peers: others };
    writeClusterFile(ctx.dirs.clusterFile, updated);
    return {
      member,
      admin: EtcdAdmin.connect({ endpoints: [own, ...others], logger: ctx.logger, tls: etcdTls(tls) }),
      file: updated,
      endpoints: [own, ...others],
      tls,
      formed,
    };
  } catch (err) {
    await member.stop();
    throw err;
  }
}

/** The etcd client's TLS: the cluster CA and the node's certificate (etcd checks client certificates). */
export function etcdTls(tls: NodeTls) {
  return { caPem: tls.caPem, certPem: tls.certPem, keyPem: tls.keyPem };
}

async function withEtcdAdmin<T>(
  endpoints: string[],
  tls: NodeTls,
  fn: (admin: EtcdAdmin) => Promise<T>,
): Promise<T> {
  const admin = EtcdAdmin.connect({ endpoints, tls: etcdTls(tls) });
  try {
    return await fn(admin);
  } finally {
    admin.close();
  }
}

async function tailscaleCandidates(port: number, logger: Logger): Promise<string[]> {
  const status = await readTailscaleStatus();
  const candidates = joinCandidates(status, { port });
  if (candidates.length === 0) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      "--discover tailscale found no online peer tagged tag:blixard; tag the member hosts " +
        "(tailscale up --advertise-tags=tag:blixard) or start the first node with --cluster-init",
    );
  }
  logger.info({ candidates: candidates.map((c) => c.hostName) }, "found join candidates on the tailnet");
  return candidates.map((c) => c.url);
}
