/**
 * `blixard cluster status|leave|backup`: membership and maintenance through the --server node's
 * ClusterService. A backup goes to FILE.partial (mode 0600) and is renamed into place once complete.
 */
import { existsSync, rmSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import type { Command } from "commander";
import { UsageError } from "./cli-error.js";
import { clusterClient, type GlobalOptions, nodeClient } from "./client.js";
import {
  type BackupKind,
  backupMessage,
  clusterJson,
  clusterTable,
  formatBytes,
  isBackupKind,
  leaveMessage,
} from "./cluster-output.js";
import { registerJoinTokenCommands } from "./join-token-commands.js";
import { outputFormat, printData } from "./output.js";
import { progress } from "./progress.js";

export function registerClusterCommands(program: Command, globals: () => GlobalOptions): void {
  const cluster = program.command("cluster").description("show, leave or back up the cluster; join tokens");
  registerJoinTokenCommands(cluster, globals);

  cluster
    .command("status")
    .description("show the store, the nodes and the etcd members, as the --server node sees them")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const [status, { nodes }] = await Promise.all([
        clusterClient(globals()).getClusterStatus({}),
        nodeClient(globals()).listNodes({}),
      ]);
      await printData(format, clusterJson(status, nodes), () => clusterTable(status, nodes));
    });

  cluster
    .command("leave")
    .description("remove the --server node's etcd member from the cluster; that node then stops")
    .option("--force", "leave even if the cluster would lose quorum or the node still owns VMs")
    .action(async (flags: { force?: boolean }) => {
      const res = await clusterClient(globals()).leave({ force: flags.force ?? false });
      process.stdout.write(leaveMessage(res.nodeId, res.remainingMembers));
    });

  cluster
    .command("backup <file>")
    .description("write the cluster's whole state to FILE (an etcd snapshot, or SQLite on a single node)")
    .option("--force", "overwrite FILE if it exists")
    .action(async (file: string, flags: { force?: boolean }) => {
      if (!flags.force && existsSync(file)) {
        throw new UsageError(`${file} already exists; pass --force to overwrite it`);
      }
      const { kind, bytes } = await writeBackup(globals(), file);
      process.stdout.write(backupMessage(kind, bytes, file));
    });
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
