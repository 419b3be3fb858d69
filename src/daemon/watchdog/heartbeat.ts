/**
 * The lease heartbeat that the daemon writes and the watchdog reads, on the monotonic clock.
 *
 * It once was the file's mtime compared with the wall clock, so an NTP step forward made every
 * heartbeat look stale and the watchdog killed every VM (and a step back hid a frozen daemon). Now the
 * file holds the kernel's boot id and a CLOCK_MONOTONIC reading: `process.hrtime` is libuv's
 * uv_hrtime, which is clock_gettime(CLOCK_MONOTONIC) on Linux, one clock for every process of one
 * boot, so the daemon's reading and the watchdog's are comparable. The boot id tells a heartbeat
 * from before a reboot (CLOCK_MONOTONIC restarts at boot), which counts as stale.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";

const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";

function bootId(): string {
  return readFileSync(BOOT_ID_FILE, "utf8").trim();
}

function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/** Records a beat now. Written to a temporary file and renamed, so a reader never sees half a beat. */
export function writeHeartbeat(path: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${bootId()} ${monotonicMs()}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * How long ago the last beat was, in milliseconds of the monotonic clock; +Infinity when there is no
 * heartbeat or it is from an earlier boot. A heartbeat without a reading (written by a version that
 * only touched the file) falls back to its mtime against the wall clock, once, until the next beat.
 */
export function heartbeatAgeMs(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return Number.POSITIVE_INFINITY;
  }
  const match = /^(\S+) (\d+)\n?$/.exec(text);
  if (!match) return legacyAgeMs(path);
  if (match[1] !== bootId()) return Number.POSITIVE_INFINITY;
  return Math.max(0, monotonicMs() - Number(match[2]));
}

function legacyAgeMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}
