/**
 * `blixard node quarantine list|delete`: the state dirs this host's node moved aside instead of
 * deleting (orphans: see drivers/shared/quarantine.ts). They are files of this host, not cluster
 * state, so the commands read `<data-dir>/quarantine/` directly (run them on the node's host, as the
 * user that owns its data dir); nothing goes through the API, and only `delete` removes anything.
 */
import type { Command } from "commander";
import { defaultDataDir } from "../daemon/data-dir.js";
import { deleteQuarantined, listQuarantine } from "../drivers/shared/quarantine.js";
import { outputFormat, printData, renderTable } from "./output.js";

export function registerQuarantineCommands(node: Command, dataDirOf: () => string | undefined): void {
  const dir = () => `${dataDirOf() ?? defaultDataDir()}/quarantine`;
  const quarantine = node
    .command("quarantine")
    .description("state dirs of VMs this node no longer runs, kept instead of deleted (on this host)");

  quarantine
    .command("list")
    .alias("ls")
    .description("list quarantined state dirs in the data dir")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const entries = await listQuarantine(dir());
      await printData(format, entries, () =>
        entries.length === 0
          ? "nothing in quarantine\n"
          : renderTable(
              ["NAME", "VM", "SINCE", "SIZE", "REASON"],
              entries.map((e) => [e.entry, e.vm, e.at, mib(e.bytes), e.reason]),
            ),
      );
    });

  quarantine
    .command("delete <name>")
    .alias("rm")
    .description("delete one quarantined state dir for good (its NAME from `quarantine list`)")
    .action(async (name: string) => {
      await deleteQuarantined(dir(), name);
      process.stdout.write(`quarantine/${name} deleted\n`);
    });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
