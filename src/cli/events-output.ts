/** Event log output: a table of TIME TYPE VM NODE ACTOR REASON, one JSON object per event, or YAML. */
import type { Event } from "../gen/blixard/v1/vm_pb.js";
import { renderTable } from "./output.js";

export function eventJson(event: Event): Record<string, unknown> {
  return {
    at: event.at,
    type: event.type,
    vm: event.vm,
    node: event.node,
    reason: event.reason,
    actor: event.actor || "system",
    revision: Number(event.revision),
  };
}

function row(event: Event): string[] {
  // Events without an actor were caused by the system (agents, scheduler) or written before actors.
  return [event.at, event.type, event.vm, event.node || "-", event.actor || "system", event.reason || "-"];
}

export function eventTable(events: Event[]): string {
  return renderTable(["TIME", "TYPE", "VM", "NODE", "ACTOR", "REASON"], events.map(row));
}

/** One event as a table line without the header, for `events -f`. */
export function eventLine(event: Event): string {
  return row(event).join("   ");
}
