/**
 * The node watchdog: a separate process that a cluster node starts next to itself. The node writes a
 * heartbeat (heartbeat.ts: a monotonic clock reading, so wall-clock steps do not matter) at every
 * lease renewal that gets through; when the last beat is older than the lease TTL,
 * the lease may have expired and the leader may be moving this node's VMs, so the watchdog kills them.
 * Being a separate process, it also fences a node whose daemon is frozen (SIGSTOP) or hung, which
 * cannot fence itself. It runs until the node's next daemon replaces it, or it is told to stop (SIGTERM).
 *
 *   node watchdog-main.js HEARTBEAT_FILE VMS_DIR TTL_MS
 */
import { heartbeatAgeMs } from "./heartbeat.js";
import { killNodeVms } from "./kill-vms.js";

const [heartbeat, vmsDir, ttlArg] = process.argv.slice(2);
const ttlMs = Number(ttlArg);
if (!heartbeat || !vmsDir || !Number.isFinite(ttlMs) || ttlMs <= 0) {
  process.stderr.write("usage: watchdog-main.js HEARTBEAT_FILE VMS_DIR TTL_MS\n");
  process.exit(2);
}

const log = (msg: string, fields: Record<string, unknown> = {}) =>
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), component: "watchdog", msg, ...fields })}\n`,
  );

process.once("SIGTERM", () => process.exit(0));
log("watching the node's lease heartbeat", { heartbeat, ttlMs });
// It keeps watching after fencing: while the heartbeat stays stale, no VM of this node may run.
let busy = false;
setInterval(async () => {
  const age = heartbeatAgeMs(heartbeat!);
  if (age <= ttlMs || busy) return;
  busy = true;
  const killed = await killNodeVms(vmsDir!);
  busy = false;
  if (killed.length > 0)
    log("lease heartbeat is stale: killed this node's VMs", { ageMs: Math.round(age), killed });
}, 200);
