/**
 * How the agent takes a VM off its node: a VM the user deleted goes with its state dir and every key
 * it holds (state/vm-transactions.ts), in one transaction; a VM the node runs with no assignment
 * (deleted behind its back, or moved elsewhere while it was away) is stopped and its state dir
 * quarantined, never deleted, and only this node's own status report is taken back.
 */
import { type EventKeys, eventEntry } from "../core/events.js";
import type { VmRecord } from "../core/vm-record.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import type { StopOptions, VmDriver } from "../ports/vm-driver.js";
import { deleteVmOps } from "../state/vm-transactions.js";
import type { StatusReporter } from "./status-reporter.js";

export interface RemovalContext {
  nodeId: string;
  store: Store;
  driver: VmDriver;
  clock: Clock;
  logger: Logger;
  eventKeys: EventKeys;
  stopOptions: StopOptions;
  reports: StatusReporter;
}

/** Removes a deleted VM (already stopped): its state dir, then its keys. Returns the delete's revision. */
export async function removeDeletedVm(ctx: RemovalContext, record: VmRecord): Promise<number> {
  const { name } = record;
  await ctx.driver.remove(name);
  const deleted = await ctx.store.txn({
    compare: [],
    success: deleteVmOps(
      record,
      ctx.nodeId,
      eventEntry(ctx.eventKeys, ctx.clock.now(), {
        type: "deleted",
        vm: name,
        node: ctx.nodeId,
        reason: "stopped and its state removed",
      }),
      (volume) =>
        eventEntry(ctx.eventKeys, ctx.clock.now(), {
          type: "volume-detached",
          vm: name,
          node: ctx.nodeId,
          reason: `released volume ${volume}`,
        }),
    ),
  });
  ctx.reports.forget(name);
  ctx.logger.info({ vm: name }, "deleted VM");
  return deleted.revision;
}

/**
 * A VM on this node with no assignment is fenced off: stopped, and its state dir quarantined rather
 * than deleted. Nobody asked this node to delete it: after a failover its disk may hold the only copy
 * of the guest's writes, and an empty or wrong store must not wipe every disk.
 */
export async function fenceOffOrphan(ctx: RemovalContext, name: string): Promise<void> {
  const runtime = await ctx.driver.inspect(name);
  if (runtime.state === "running") {
    const method = await ctx.driver.stop(name, ctx.stopOptions);
    ctx.logger.warn({ vm: name, method }, "stopped a VM that has no desired state on this node");
  }
  if ((await ctx.driver.list()).includes(name)) {
    const reason = "no record assigns it to this node";
    await ctx.driver.remove(name, { quarantine: { reason } });
    await ctx.store.txn({
      compare: [],
      success: [
        eventEntry(ctx.eventKeys, ctx.clock.now(), {
          type: "quarantined",
          vm: name,
          node: ctx.nodeId,
          reason: `its state dir was moved to quarantine: ${reason}`,
        }),
      ],
    });
  }
  await ctx.reports.withdraw(name);
}
