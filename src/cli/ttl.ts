/** `--ttl` for API tokens and join tokens: a duration such as 90s, 30m, 12h or 7d, as seconds. */
import { UsageError } from "./usage-error.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "30m", "12h", "7d" as seconds; at most 366 days. */
export function parseTtl(value: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * (UNITS[match[2]!] ?? 0) : 0;
  if (seconds <= 0 || seconds > 366 * 86400) {
    throw new UsageError(`--ttl: "${value}" is not a duration like 90s, 30m, 12h or 7d (at most 366d)`);
  }
  return seconds;
}
