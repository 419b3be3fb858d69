/** `blixard events [--vm NAME] [--node ID] [--limit N] [-f] [-o table|json|yaml]`: the event log. */
import type { Command } from "commander";
import { type GlobalOptions, vmClient } from "./client.js";
import { outputFormat, printData } from "./output.js";

interface EventsFlags {
  vm?: string;
  node?: string;
  limit?: string;
  follow?: boolean;
  output?: string;
}

export function registerEventsCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command("events")
    .description("show the event log: VM transitions with time, node and reason, oldest first")
    .option("--vm <name>", "only this VM's events")
    .option("--node <id>", "only events on this node")
    .option("--limit <n>", "the last N events", "100")
    .option("-f, --follow", "keep printing new events")
    .option("-o, --output <format>", "table, json or yaml (with -f: one JSON object per line for json)")
    .action(async (flags: EventsFlags) => {
      const format = outputFormat(flags.output);
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
        throw new Error(`--limit "${flags.limit}" must be a whole number from 1 to 100000`);
      }
      const request = { vm: flags.vm ?? "", node: flags.node ?? "", limit };
      const { eventJson, eventLine, eventTable } = await import("./events-output.js");
      if (!flags.follow) {
        const { events } = await vmClient(globals()).listEvents(request);
        await printData(format, events.map(eventJson), () => eventTable(events));
        return;
      }
      const controller = new AbortController();
      process.once("SIGINT", () => controller.abort());
      try {
        for await (const event of vmClient(globals()).followEvents(request, { signal: controller.signal })) {
          process.stdout.write(
            `${format === "json" ? JSON.stringify(eventJson(event)) : eventLine(event)}\n`,
          );
        }
      } catch (err) {
        if (!controller.signal.aborted) throw err;
      }
    });
}
