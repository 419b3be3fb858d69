/**
 * The `blixard` command: a thin kubectl-style client, plus `blixard node` to run a node.
 * Start-up is on the path of every command (and of `vm start` to a booted guest), so only commander
 * and the command definitions load here; each action imports the module that does its work, and only
 * the commands that make a request load Connect and the generated descriptors (start-imports.test.ts).
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerApplyCommand } from "./apply-command.js";
import { registerClusterCommands } from "./cluster-commands.js";
import { registerEventsCommand } from "./events-command.js";
import { registerFunctionCommands } from "./fn-commands.js";
import { DEFAULT_SERVER, type GlobalOptions } from "./globals.js";
import { registerNodeCommand } from "./node-command.js";
import { registerServiceCommands } from "./service-commands.js";
import { registerTokenCommands } from "./token-commands.js";
import { registerVmCommands } from "./vm-commands.js";
import { registerVolumeCommands } from "./volume-commands.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const program = new Command("blixard")
  .version(pkg.version)
  .description("Run microVMs across a cluster of Linux hosts")
  .option(
    "--server <url>",
    "node API URL (default: $BLIXARD_SERVER, else 127.0.0.1:7001, over https when the data dir has pki/ca.crt)",
    process.env["BLIXARD_SERVER"] ?? DEFAULT_SERVER,
  )
  .option(
    "--ca-file <file>",
    "the cluster CA to verify an https:// node against (default: $BLIXARD_CA_FILE, <data-dir>/pki/ca.crt)",
  )
  .option("--data-dir <dir>", "node data dir, to read the API token from (default: $BLIXARD_DATA_DIR)")
  .option(
    "--token-file <path>",
    "read the API token from this file (default: $BLIXARD_TOKEN, else <data-dir>/token)",
  )
  .option("-v, --verbose", "print error details")
  // Usage errors print as one line too: commander's "(Did you mean ...?)" hint joins the error line.
  .configureOutput({ outputError: (text, write) => write(`${text.trimEnd().replace(/\n+/g, " ")}\n`) })
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
registerNodeCommand(program, globals);
registerVmCommands(program, globals);
registerApplyCommand(program, globals);
registerEventsCommand(program, globals);
registerClusterCommands(program, globals);
registerTokenCommands(program, globals);
registerServiceCommands(program, globals);
registerFunctionCommands(program, globals);
registerVolumeCommands(program, globals);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const options = globals();
  const { describeError } = await import("./cli-error.js");
  process.stderr.write(`error: ${describeError(err, options.server)}\n`);
  if (options.verbose && err instanceof Error) process.stderr.write(`${err.stack ?? ""}\n`);
  process.exit(1);
}
