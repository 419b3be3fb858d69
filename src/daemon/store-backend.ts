/**
 * The node's store, chosen once as one tagged value: the single node's embedded SQLite, an etcd
 * member this node manages (`--cluster-init`, `--join`, or a restart of either), or an external etcd
 * cluster (`--store etcd://…`). Each kind carries what only it has (the SQLite store and its
 * compactor, the managed member, the external cluster's admin client); the rest of the node works on
 * `store`. Everything opened here is closed by the cleanups it registers.
 */

import type { PkiLayout } from "../pki/pki-files.js";
import { cryptoRandom } from "../platform/crypto-random.js";
import { systemClock } from "../platform/system-clock.js";
import type { Logger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import { EtcdAdmin } from "../store/etcd/etcd-admin.js";
import { EtcdStore } from "../store/etcd/etcd-store.js";
import { GroupCommitStore } from "../store/group-commit/group-commit-store.js";
import { restoreSqliteBackup } from "../store/sqlite/restore-backup.js";
import { SqliteCompactor } from "../store/sqlite/sqlite-compactor.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import type { Cleanup } from "./cleanups.js";
import { etcdTls, type ManagedMember, startManagedMember } from "./cluster/managed-member.js";
import type { DataDirLayout } from "./data-dir.js";
import { externalEtcdConnection } from "./etcd/external-etcd.js";
import type { NodeOptions } from "./node-options.js";

export type StoreBackend =
  | { kind: "sqlite"; store: Store; sqlite: SqliteStore; compactor: SqliteCompactor }
  | { kind: "etcd-managed"; store: GroupCommitStore; managed: ManagedMember }
  | { kind: "etcd-external"; store: GroupCommitStore; external: EtcdAdmin };

export interface StoreBackendContext {
  options: NodeOptions;
  dirs: DataDirLayout;
  nodeId: string;
  /** The join token (--token), when joining. */
  joinToken: string | undefined;
  pki: PkiLayout;
  logger: Logger;
  /** Where each opened part registers how to close it (run in order, newest first). */
  cleanups: Cleanup[];
}

export async function openStoreBackend(ctx: StoreBackendContext): Promise<StoreBackend> {
  const { options, dirs, logger: log, cleanups } = ctx;
  const managed = await startManagedMember({
    options,
    dirs,
    nodeId: ctx.nodeId,
    token: ctx.joinToken,
    pki: ctx.pki,
    clock: systemClock,
    random: cryptoRandom,
    logger: log,
  });
  if (managed) {
    cleanups.unshift(() => managed.member.stop());
    cleanups.unshift(() => managed.admin.close());
    // etcd is remote: concurrent transactions share round trips (group commit).
    const store = await etcdStore(
      { endpoints: managed.endpoints, namespace: managed.file.namespace, tls: etcdTls(managed.tls) },
      log,
      cleanups,
    );
    return { kind: "etcd-managed", store, managed };
  }
  if (options.store.kind === "etcd") {
    const connection = externalEtcdConnection(options);
    const external = await EtcdAdmin.connect({
      endpoints: options.store.endpoints,
      logger: log,
      ...connection,
    });
    cleanups.unshift(() => external.close());
    const store = await etcdStore(
      { endpoints: options.store.endpoints, namespace: options.store.namespace, ...connection },
      log,
      cleanups,
    );
    return { kind: "etcd-external", store, external };
  }
  if (options.restore !== undefined) restoreSqliteBackup(options.restore, dirs.storeFile);
  const sqlite = await SqliteStore.open({ path: dirs.storeFile, clock: systemClock, logger: log });
  cleanups.unshift(() => sqlite.close());
  // The single node compacts its own revision log (etcd members do it themselves).
  const compactor = new SqliteCompactor({
    store: sqlite,
    clock: systemClock,
    logger: log,
    intervalMs: options.storeCompaction.intervalSeconds * 1000,
    retainRevisions: options.storeCompaction.retainRevisions,
  });
  compactor.start();
  cleanups.unshift(() => compactor.stop());
  return { kind: "sqlite", store: sqlite, sqlite, compactor };
}

async function etcdStore(
  connection: Omit<Parameters<typeof EtcdStore.connect>[0], "logger">,
  logger: Logger,
  cleanups: Cleanup[],
): Promise<GroupCommitStore> {
  const store = new GroupCommitStore(await EtcdStore.connect({ ...connection, logger }));
  cleanups.unshift(() => store.close());
  return store;
}
