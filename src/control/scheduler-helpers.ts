/**
 * Small pieces of the scheduler: the compare that keeps a move off a lost node honest, the reason a
 * placement names, the cache maps mirrored from store prefixes, and pruning the event log.
 */
import { keys } from "../core/keys.js";
import type { VmRecord } from "../core/vm-record.js";
import type { Compare, Store } from "../ports/store.js";

/** Keeps the event log to `maxEvents`: deletes the oldest keys (they sort by time), fenced, in batches. */
export async function pruneEventLog(store: Store, fence: Compare, maxEvents: number): Promise<void> {
  const { kvs } = await store.range(keys.eventsPrefix);
  const excess = kvs.length - maxEvents;
  for (let i = 0; i < excess; i += 128) {
    const batch = kvs.slice(i, Math.min(excess, i + 128));
    await store.txn({
      compare: [fence],
      success: batch.map((kv) => ({ type: "delete" as const, key: kv.key })),
    });
  }
}

/**
 * A move off a lost node holds only while that node is still NotReady in the store (its liveness key
 * is gone), whatever the cache says: a cache that has not seen the node come back must not hand its
 * VMs to another node while it runs them. A node whose key is gone has fenced itself already.
 */
export function stillGone(node: string | undefined): Compare[] {
  return node ? [{ key: keys.alive(node), target: "createRevision", op: "=", value: 0 }] : [];
}

export function placementOf(record: VmRecord): string {
  const placement = record.spec.placement;
  if (placement?.node) return "manual placement";
  return placement?.strategy ? `strategy ${placement.strategy}` : "the default strategy";
}
