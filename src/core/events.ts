/**
 * The event log: every transition of a VM (created, scheduled, starting, running, failed, restarted,
 * rescheduled, stopped, deleted, …) as a key written in the same transaction as the change it
 * records, so an event is never lost or invented. Keys sort by time, then writer; readers order by
 * the store revision that wrote them.
 */
import { keys } from "./keys.js";
import type { VmStatus } from "./vm-record.js";

export const EVENT_TYPES = [
  "created",
  "scheduled",
  "rescheduled",
  "unschedulable",
  "starting",
  "running",
  "failed",
  "restarted",
  "stopped",
  "deleted",
  "fenced",
  "quarantined",
  /** An agent found a record no valid API call could have written, and did nothing with it. */
  "refused",
  /** A user asked for a change (start, stop, restart, delete, scale, drain); its actor says who. */
  "requested",
  /** A user changed the VM's spec (`vm update`, `apply`); the reason lists the changed fields. */
  "updated",
  /** A load-balanced service was created or deleted; its `vm` field holds the service's name. */
  "service-created",
  "service-deleted",
  /** Volume events (core/volume.ts): their `vm` field holds the volume's name. */
  "volume-created",
  "volume-available",
  "volume-failed",
  "volume-deleting",
  "volume-deleted",
  "volume-snapshotted",
  /** A VM claimed a volume (in its create) or let it go (in its delete); `vm` is the VM, reason names the volume. */
  "volume-attached",
  "volume-detached",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface VmEvent {
  at: string;
  type: EventType;
  vm: string;
  /** The node the event happened on or concerns; "" when none. */
  node: string;
  reason: string;
  /** The token name of the request that caused it; absent for events the system caused (and old ones). */
  actor?: string;
}

/** Makes event keys unique per writer: time, writer id, then a counter for events in the same ms. */
export class EventKeys {
  private last = 0;
  private seq = 0;

  constructor(private readonly writer: string) {}

  next(at: number): string {
    this.seq = at === this.last ? this.seq + 1 : 0;
    this.last = at;
    return `${keys.eventsPrefix}${String(at).padStart(15, "0")}-${this.writer}-${String(this.seq).padStart(4, "0")}`;
  }
}

/** The key and value that record `event`, to put in the transaction that makes the change. */
export function eventEntry(
  eventKeys: EventKeys,
  atMs: number,
  event: Omit<VmEvent, "at">,
): { type: "put"; key: string; value: string } {
  const full: VmEvent = { at: new Date(atMs).toISOString(), ...event };
  return { type: "put", key: eventKeys.next(atMs), value: JSON.stringify(full) };
}

/** The event a status change is, if any: phase transitions and automatic restarts. */
export function statusEvent(previous: VmStatus | undefined, next: VmStatus): EventType | undefined {
  if (next.restarts > (previous?.restarts ?? 0)) return "restarted";
  if (previous?.phase === next.phase) return undefined;
  switch (next.phase) {
    case "Starting":
      return "starting";
    case "Running":
      return "running";
    case "Failed":
      return "failed";
    case "Stopped":
      return previous === undefined || previous.phase === "Pending" ? undefined : "stopped";
    default:
      return undefined;
  }
}
