/**
 * Refuses to start a node whose store holds no VM at all while its data dir's `vms/` holds state dirs.
 * That is what a lost, truncated (zero-length) or replaced store.db looks like, and starting anyway
 * used to make every VM an orphan whose disk was deleted. Now orphans are quarantined, not deleted,
 * but a node that finds its store empty should still stop and say so: the operator may restore the
 * store (`--restore`) instead. `--accept-empty-store` starts anyway.
 */

import { BlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import { listVmNames } from "../drivers/shared/vm-paths.js";
import type { Store } from "../ports/store.js";

export async function refuseEmptyStoreWithVms(store: Store, vmsDir: string, accept: boolean): Promise<void> {
  const local = await listVmNames(vmsDir);
  if (local.length === 0 || accept) return;
  const { kvs } = await store.range(keys.vmsPrefix, { limit: 1 });
  if (kvs.length > 0) return;
  const shown = local.slice(0, 5).join(", ") + (local.length > 5 ? `, and ${local.length - 5} more` : "");
  throw new BlixardError(
    "FAILED_PRECONDITION",
    `the store holds no VM, but ${vmsDir} holds the state of ${local.length} (${shown}): the store may have been lost or replaced. Restore it (blixard node --restore BACKUP), or pass --accept-empty-store to start anyway; their state dirs are then moved to quarantine, not deleted`,
  );
}
