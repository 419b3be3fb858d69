/**
 * Starting and feeding the node watchdog (watchdog-main.ts) from the daemon: spawned detached, so it
 * outlives a daemon that is killed or frozen; its pid is recorded so that the next daemon replaces it;
 * the daemon writes a heartbeat (heartbeat.ts, on the monotonic clock) at every lease renewal that
 * gets through.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { heartbeatAgeMs, writeHeartbeat } from "./heartbeat.js";

export interface NodeWatchdog {
  /**
   * When the previous daemon's last renewal got through, in wall-clock ms (now minus the heartbeat's
   * monotonic age, kept across restarts), or undefined when there was no heartbeat yet (a new node).
   */
  readonly lastBeat: number | undefined;
  /** Called at every lease renewal that got through. */
  beat(): void;
  /** Stops the watchdog (a clean shutdown that stops the node's VMs itself, or a leave). */
  stop(): void;
}

const MAIN = fileURLToPath(new URL("./watchdog-main.js", import.meta.url));

export function startNodeWatchdog(runDir: string, vmsDir: string, ttlMs: number): NodeWatchdog {
  const heartbeat = join(runDir, "lease-heartbeat");
  const pidFile = join(runDir, "watchdog.pid");
  stopLeftover(pidFile);
  // The heartbeat is kept across restarts: it tells when this node's lease was last renewed, and a
  // daemon that restarts must not reset it, or a node restarting in a loop would never be fenced.
  const age = existsSync(heartbeat) ? heartbeatAgeMs(heartbeat) : undefined;
  // A heartbeat from before a reboot has an unknown age: its lease is long gone, so say "the epoch".
  const lastBeat = age === undefined ? undefined : Number.isFinite(age) ? Date.now() - age : 0;
  if (lastBeat === undefined) writeHeartbeat(heartbeat);
  const log = openSync(join(runDir, "watchdog.log"), "a", 0o600);
  const child = spawn(process.execPath, [MAIN, heartbeat, vmsDir, String(ttlMs)], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  child.unref();
  writeFileSync(pidFile, `${child.pid}\n`, { mode: 0o600 });
  return {
    lastBeat,
    beat() {
      writeHeartbeat(heartbeat);
    },
    stop() {
      stopLeftover(pidFile);
    },
  };
}

/** Stops the watchdog a previous daemon left, identified by its pidfile and command line. */
function stopLeftover(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
  const cmdline =
    pid > 0 && existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
  if (cmdline.includes(MAIN)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  rmSync(pidFile, { force: true });
}
