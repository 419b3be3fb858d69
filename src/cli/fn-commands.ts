/**
 * `blixard fn deploy|list|get|delete|logs|invoke`: serverless functions on pools of microVMs
 * (docs/functions.md). Definitions only: fn-actions.ts does the work when one runs.
 */
import type { Command } from "commander";
import type { DeployFlags, InvokeFlags } from "./fn-actions.js";
import type { GlobalOptions } from "./globals.js";

const actions = () => import("./fn-actions.js");
const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerFunctionCommands(program: Command, globals: () => GlobalOptions): void {
  const fn = program
    .command("fn")
    .description("serverless functions: HTTP handlers served by pools of microVMs");

  fn.command("deploy <name>")
    .description("create a function or deploy its next version (instances of the previous one drain)")
    .option("-f, --file <path>", "the spec as TOML, YAML or JSON (flags override its fields)")
    .option("--kernel <path>", "guest kernel (default: the node's default image)")
    .option("--initrd <path>", "guest initrd")
    .option("--disk <path>", "base disk image")
    .option("--port <port>", "the guest port the function serves HTTP on (default 80)")
    .option("--memory <mib>", "memory per instance in MiB (default 256)")
    .option("--vcpus <n>", "vcpus per instance (default 1)")
    .option("--min-instances <n>", "instances kept ready without requests (default 0)")
    .option("--max-instances <n>", "the most instances (default 10)")
    .option("--concurrency <n>", "requests one instance serves at once before the pool grows (default 4)")
    .option(
      "--idle-timeout <seconds>",
      "seconds without requests before surplus instances stop (default 300)",
    )
    .option(
      "--env <KEY=VALUE>",
      "an environment variable (repeatable), on the guest's kernel command line",
      collect,
    )
    .option("--cmdline <args>", "extra kernel command-line words")
    .option("--constraint <KEY=VALUE>", "a node label constraint (repeatable)", collect)
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: DeployFlags) =>
      (await actions()).deployFunction(globals(), name, flags),
    );

  fn.command("list")
    .description("list functions: version, instances, in flight")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listFunctions(globals(), flags));

  fn.command("get <name>")
    .description("show a function: its spec, versions and instances")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: { output?: string }) =>
      (await actions()).getFunction(globals(), name, flags),
    );

  fn.command("delete <name>")
    .description("delete a function; its instances stop")
    .action(async (name: string) => (await actions()).deleteFunction(globals(), name));

  fn.command("logs <name>")
    .description("the console of each instance of the function")
    .option("--tail <n>", "lines per instance, or all", "50")
    .action(async (name: string, flags: { tail: string }) =>
      (await actions()).functionLogs(globals(), name, flags),
    );

  fn.command("invoke <name> [path]")
    .description("send an HTTP request to the function through a node's gateway and print the answer")
    .option("--data <body>", "the request body (POST); @FILE reads it from a file, @- from stdin")
    .option("--header <K:V>", "a request header (repeatable)", collect)
    .option("-X, --method <method>", "the HTTP method (default GET, POST with --data)")
    .option("--gateway <url>", "the gateway to use", "http://127.0.0.1:7080")
    .action(async (name: string, path: string | undefined, flags: InvokeFlags) =>
      (await actions()).invokeFunction(name, path, flags),
    );
}
