/** CPU time (user + system) of processes, from /proc/<pid>/stat, for CPU-per-operation accounting. */
import { readFileSync } from "node:fs";

/** Linux reports utime and stime in clock ticks of USER_HZ, 100 a second on x86-64 and arm64. */
const TICK_MS = 10;

/** CPU milliseconds the process has used so far; 0 when it is gone. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** CPU milliseconds of this process (the benchmark's client side). */
export function selfCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
