/** Event log output: a table of TIME TYPE VM NODE REASON, one JSON object per event, or YAML. */
import type { Event } from "../gen/blixard/v1/vm_pb.js";
import { renderTable } from "./output.js";

export function eventJson(event: Event): Record<string, unknown> {
  return {
    at: event.at,
    type: event.type,
    vm: event.vm,
    node: event.node,
    reason: event.reason,
    revision: Number(event.revision),
  };
}

function row(event: Event): string[] {
  return [event.at, event.type, event.vm, event.node || "-", event.reason || "-"];
}

export function eventTable(events: Event[]): string {
  return renderTable(["TIME", "TYPE", "VM", "NODE", "REASON"], events.map(row));
}

/** One event as a table line without the header, for `events -f`. */
export function eventLine(event: Event): string {
  return row(event).join("   ");
}
