/**
 * `blixard node quarantine list|delete`: the state dirs this host's node moved aside instead of
 * deleting (orphans: see drivers/shared/quarantine.ts). They are files of this host, not cluster
 * state, so the commands read `<data-dir>/quarantine/` directly (run them on the node's host, as the
 * user that owns its data dir); nothing goes through the API, and only `delete` removes anything.
 * Definitions only; quarantine-actions.ts does the work when one runs.
 */
import type { Command } from "commander";

const actions = () => import("./quarantine-actions.js");

export function registerQuarantineCommands(node: Command, dataDirOf: () => string | undefined): void {
  const quarantine = node
    .command("quarantine")
    .description("state dirs of VMs this node no longer runs, kept instead of deleted (on this host)");

  quarantine
    .command("list")
    .alias("ls")
    .description("list quarantined state dirs in the data dir")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listQuarantined(dataDirOf(), flags));

  quarantine
    .command("delete <name>")
    .alias("rm")
    .description("delete one quarantined state dir for good (its NAME from `quarantine list`)")
    .action(async (name: string) => (await actions()).deleteQuarantinedDir(dataDirOf(), name));
}
