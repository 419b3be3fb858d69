/**
 * What `blixard cluster status|leave|backup` do, through the --server node's ClusterService. A backup
 * goes to FILE.partial (mode 0600) and is renamed into place once complete.
 */
import { existsSync, rmSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { clusterClient, nodeClient } from "./client.js";
import {
  type BackupKind,
  backupMessage,
  clusterJson,
  clusterTable,
  formatBytes,
  isBackupKind,
  leaveMessage,
} from "./cluster-output.js";
import type { GlobalOptions } from "./globals.js";
import { outputFormat, printData } from "./output.js";
import { progress } from "./progress.js";
import { UsageError } from "./usage-error.js";

export async function clusterStatus(options: GlobalOptions, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const [status, { nodes }] = await Promise.all([
    clusterClient(options).getClusterStatus({}),
    nodeClient(options).listNodes({}),
  ]);
  await printData(format, clusterJson(status, nodes), () => clusterTable(status, nodes));
}

export async function leaveCluster(options: GlobalOptions, flags: { force?: boolean }): Promise<void> {
  const res = await clusterClient(options).leave({ force: flags.force ?? false });
  process.stdout.write(leaveMessage(res.nodeId, res.remainingMembers));
}

export async function backupCluster(
  options: GlobalOptions,
  file: string,
  flags: { force?: boolean },
): Promise<void> {
  if (!flags.force && existsSync(file)) {
    throw new UsageError(`${file} already exists; pass --force to overwrite it`);
  }
  const { kind, bytes } = await writeBackup(options, file);
  process.stdout.write(backupMessage(kind, bytes, file));
}

/** Streams the backup into FILE.partial and renames it to FILE; the partial file never outlives a failure. */
async function writeBackup(
  options: GlobalOptions,
  file: string,
): Promise<{ kind: BackupKind; bytes: number }> {
  const partial = `${file}.partial`;
  const onInterrupt = () => {
    rmSync(partial, { force: true });
    process.exit(130);
  };
  await rm(partial, { force: true }); // left by a killed run
  // Created 0600: the backup holds every VM spec and the cluster's secrets.
  const out = await open(partial, "wx", 0o600);
  process.once("SIGINT", onInterrupt);
  const status = progress();
  let kind: BackupKind | undefined;
  let bytes = 0;
  let drawn = 0;
  try {
    try {
      for await (const chunk of clusterClient(options).backup({})) {
        if (kind === undefined) {
          if (!isBackupKind(chunk.kind)) {
            throw new Error(
              `the node sent a backup of unknown kind "${chunk.kind}"; is this CLI older than the node?`,
            );
          }
          kind = chunk.kind;
        }
        for (let offset = 0; offset < chunk.data.length; ) {
          offset += (await out.write(chunk.data, offset)).bytesWritten;
        }
        bytes += chunk.data.length;
        if (Date.now() - drawn >= 100) {
          drawn = Date.now();
          status.update(`backing up: ${formatBytes(bytes)} so far`);
        }
      }
      if (kind === undefined) throw new Error("the node ended the backup without sending anything");
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(partial, file);
    return { kind, bytes };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  } finally {
    status.done();
    process.removeListener("SIGINT", onInterrupt);
  }
}
