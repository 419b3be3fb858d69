/** Status writes are skipped when nothing but the timestamp changed, so a steady node writes nothing. */
import type { VmStatus } from "../core/vm-record.js";

export function statusChanged(previous: VmStatus | undefined, next: VmStatus): boolean {
  if (!previous) return true;
  const { updatedAt: _a, ...a } = previous;
  const { updatedAt: _b, ...b } = next;
  return stable(a) !== stable(b);
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)))
      : v,
  );
}
