/** What `blixard events` does: lists the event log, or follows it with -f. */
import { vmClient } from "./client.js";
import { eventJson, eventLine, eventTable } from "./events-output.js";
import type { GlobalOptions } from "./globals.js";
import { outputFormat, printData } from "./output.js";

export interface EventsFlags {
  vm?: string;
  node?: string;
  limit?: string;
  follow?: boolean;
  output?: string;
}

export async function showEvents(options: GlobalOptions, flags: EventsFlags): Promise<void> {
  const format = outputFormat(flags.output);
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
    throw new Error(`--limit "${flags.limit}" must be a whole number from 1 to 100000`);
  }
  const request = { vm: flags.vm ?? "", node: flags.node ?? "", limit };
  if (!flags.follow) {
    const { events } = await vmClient(options).listEvents(request);
    await printData(format, events.map(eventJson), () => eventTable(events));
    return;
  }
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  try {
    for await (const event of vmClient(options).followEvents(request, { signal: controller.signal })) {
      process.stdout.write(`${format === "json" ? JSON.stringify(eventJson(event)) : eventLine(event)}\n`);
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
}
