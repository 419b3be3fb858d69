/**
 * Upgrading a store written before placements had keys of their own: such a VM record carries its
 * placement (`node`, `epoch`, `unschedulable`, `handoffFrom`) inline, and no node holds an assignment
 * of it. Run by every node as it starts, before its agent: the agent acts only on its assignments, so
 * without this it would take the VMs it runs for orphans and stop them. Each record moves in one
 * compare-and-swap transaction (record without the fields, its placement, its node's assignment), so
 * nodes starting together move each record once. Idempotent, and done once per store: a marker key
 * written after the first complete pass lets every later start skip the scan of every VM record.
 */
import { keys, nameFromKey } from "../core/keys.js";
import type { Placement } from "../core/vm-record.js";
import { decodeVmRecord, encodeVmRecord } from "../core/vm-record-codec.js";
import type { Logger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import { placeVmOps } from "./vm-transactions.js";

const INLINE_FIELDS = ["node", "epoch", "unschedulable", "handoffFrom"] as const;

/** Moves every inline placement to its own keys; returns how many records it moved. */
export async function migrateLegacyPlacements(store: Store, logger: Logger): Promise<number> {
  if (await store.get(keys.placementsMoved)) return 0;
  const { kvs } = await store.range(keys.vmsPrefix);
  let moved = 0;
  for (const kv of kvs) {
    const name = nameFromKey(keys.vmsPrefix, kv.key);
    const legacy = inlinePlacement(kv.value);
    if (!legacy) continue;
    const decoded = decodeVmRecord(name, JSON.stringify(legacy.record));
    // Not a record any API could have written, with or without the fields: left for the agent to refuse.
    if (!decoded.ok) continue;
    // recordRevision 0: the leader's scheduler copies the record to the node once more, harmlessly.
    const placement: Placement = { ...legacy.placement, recordRevision: 0 };
    // A record changed meanwhile was moved by another node starting at the same time (no other
    // writer can decode it, so none changes it otherwise).
    const result = await store.txn({
      compare: [
        { key: kv.key, target: "modRevision", op: "=", value: kv.modRevision },
        { key: keys.placement(name), target: "createRevision", op: "=", value: 0 },
      ],
      success: [
        { type: "put", key: kv.key, value: encodeVmRecord(decoded.record) },
        ...placeVmOps(decoded.record, placement, ""),
      ],
    });
    if (result.succeeded) moved++;
  }
  if (moved > 0) logger.info({ moved }, "moved VM placements out of their records (store upgrade)");
  await store.put(keys.placementsMoved, "1");
  return moved;
}

/** The record without its inline placement, and that placement; undefined when it has none. */
function inlinePlacement(
  value: string,
): { record: Record<string, unknown>; placement: Omit<Placement, "recordRevision"> } | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const record = { ...(raw as Record<string, unknown>) };
  if (!INLINE_FIELDS.some((field) => field in record)) return undefined;
  const { node, epoch, unschedulable, handoffFrom } = record;
  for (const field of INLINE_FIELDS) delete record[field];
  return {
    record,
    placement: {
      node: typeof node === "string" ? node : "",
      epoch: typeof epoch === "number" && Number.isInteger(epoch) && epoch >= 0 ? epoch : 0,
      ...(typeof unschedulable === "string" ? { unschedulable } : {}),
      ...(typeof handoffFrom === "string" ? { handoffFrom } : {}),
    },
  };
}
