/**
 * `blixard events [--vm NAME] [--node ID] [--limit N] [-f] [-o table|json|yaml]`: the event log.
 * The definition only; events-action.ts does the work when it runs.
 */
import type { Command } from "commander";
import type { EventsFlags } from "./events-action.js";
import type { GlobalOptions } from "./globals.js";

export function registerEventsCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("events")
    .description("show the event log: VM transitions with time, node and reason, oldest first")
    .option("--vm <name>", "only this VM's events")
    .option("--node <id>", "only events on this node")
    .option("--limit <n>", "the last N events", "100")
    .option("-f, --follow", "keep printing new events")
    .option("-o, --output <format>", "table, json or yaml (with -f: one JSON object per line for json)")
    .action(async (flags: EventsFlags) => (await import("./events-action.js")).showEvents(globals(), flags));
}
