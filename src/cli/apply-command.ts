/**
 * `blixard apply -f FILE`: create or update every VM a spec file describes (several documents per
 * file). The work is in update-actions.ts, imported when the command runs.
 */
import type { Command } from "commander";
import type { GlobalOptions } from "./globals.js";
import type { ApplyFlags } from "./update-actions.js";

export function registerApplyCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("apply")
    .description(
      "create the VMs and services of a spec file that do not exist and update the VMs that do (documents with kind: Service are services; YAML documents separated by ---, TOML [[vm]] tables, or a JSON array)",
    )
    .requiredOption("-f, --file <path>", "spec file (.toml, .yaml, .yml or .json)")
    .option("--dry-run", "show what would be created or changed, change nothing")
    .option("--start", "start the VMs it creates")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: ApplyFlags) => (await import("./update-actions.js")).applyFile(globals(), flags));
}
