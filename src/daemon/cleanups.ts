/**
 * The node's shutdown steps, run newest first. Every step runs even when an earlier one fails: a
 * store that does not answer while the node resigns must not leave its etcd member or VMs' agent
 * behind. The first failure is rethrown once all steps have run.
 */
import type { Logger } from "../ports/logger.js";

export type Cleanup = () => Promise<void> | void;

export async function runCleanups(cleanups: readonly Cleanup[], log: Logger): Promise<void> {
  let first: unknown;
  let failed = false;
  for (const cleanup of cleanups) {
    try {
      await cleanup();
    } catch (err) {
      log.warn({ err: String(err) }, "a shutdown step failed; running the rest");
      if (!failed) first = err;
      failed = true;
    }
  }
  if (failed) throw first;
}
