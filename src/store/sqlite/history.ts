/** Reading the revision log back as watch batches, for watches that start in the past. */
import type { WatchBatch } from "../../ports/store.js";
import { prefixEnd } from "./prefix-range.js";
import { type Statements, toWatchEvent } from "./statements.js";

/** Batches of revisions in [fromRev, toRev] that touched a key under `prefix`, in revision order. */
export function readHistory(s: Statements, prefix: string, fromRev: number, toRev: number): WatchBatch[] {
  const to = prefixEnd(prefix);
  const rows =
    to === undefined
      ? s.logRangeFrom.all({ fromRev, toRev, from: prefix })
      : s.logRange.all({ fromRev, toRev, from: prefix, to });
  const batches: WatchBatch[] = [];
  for (const row of rows) {
    const last = batches[batches.length - 1];
    if (last !== undefined && last.revision === row.rev) last.events.push(toWatchEvent(row));
    else batches.push({ revision: row.rev, events: [toWatchEvent(row)] });
  }
  return batches;
}
