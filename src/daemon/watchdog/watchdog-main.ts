/**
 * The node watchdog: a separate process that a cluster node starts next to itself. The node touches a
 * heartbeat file at every lease renewal that gets through; when the file is older than the lease TTL,
 * the lease may have expired and the leader may be moving this node's VMs, so the watchdog kills them.
 * Being a separate process, it also fences a node whose daemon is frozen (SIGSTOP) or hung, which
 * cannot fence itself. It exits after fencing, or when told to by the node (SIGTERM).
 *
 *   node watchdog-main.js HEARTBEAT_FILE VMS_DIR TTL_MS
 */
import { statSync } from "node:fs";
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

function ageMs(): number {
  try {
    return Date.now() - statSync(heartbeat!).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

process.once("SIGTERM", () => process.exit(0));
log("watching the node's lease heartbeat", { heartbeat, ttlMs });
const timer = setInterval(async () => {
  const age = ageMs();
  if (age <= ttlMs) return;
  clearInterval(timer);
  const killed = await killNodeVms(vmsDir!);
  log("lease heartbeat is stale: killed this node's VMs", { ageMs: Math.round(age), killed });
  process.exit(0);
}, 200);
