/**
 * `blixard cluster status|leave|backup`: membership and maintenance through the --server node's
 * ClusterService; `cluster token ...` for join tokens. Definitions only: cluster-actions.ts does the
 * work when one runs.
 */
import type { Command } from "commander";
import type { GlobalOptions } from "./globals.js";
import { registerJoinTokenCommands } from "./join-token-commands.js";

const actions = () => import("./cluster-actions.js");

export function registerClusterCommands(program: Command, globals: () => GlobalOptions): void {
  const cluster = program.command("cluster").description("show, leave or back up the cluster; join tokens");
  registerJoinTokenCommands(cluster, globals);

  cluster
    .command("status")
    .description("show the store, the nodes and the etcd members, as the --server node sees them")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).clusterStatus(globals(), flags));

  cluster
    .command("leave")
    .description("remove the --server node's etcd member from the cluster; that node then stops")
    .option("--force", "leave even if the cluster would lose quorum or the node still owns VMs")
    .action(async (flags: { force?: boolean }) => (await actions()).leaveCluster(globals(), flags));

  cluster
    .command("backup <file>")
    .description("write the cluster's whole state to FILE (an etcd snapshot, or SQLite on a single node)")
    .option("--force", "overwrite FILE if it exists")
    .action(async (file: string, flags: { force?: boolean }) =>
      (await actions()).backupCluster(globals(), file, flags),
    );
}
