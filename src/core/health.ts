/**
 * Health state from a stream of probe results. A VM is `starting` until its first success; failures in
 * the start period do not count; `failureThreshold` consecutive failures make it `unhealthy`.
 */
import type { Health } from "./vm-record.js";
import type { HealthCheck } from "./vm-spec.js";

export interface HealthTracker {
  health: Health;
  consecutiveFailures: number;
  everHealthy: boolean;
}

export const initialHealth: HealthTracker = {
  health: "starting",
  consecutiveFailures: 0,
  everHealthy: false,
};

export function nextHealth(
  state: HealthTracker,
  check: HealthCheck,
  ok: boolean,
  sinceStartMs: number,
): HealthTracker {
  if (ok) return { health: "healthy", consecutiveFailures: 0, everHealthy: true };
  const inStartPeriod = !state.everHealthy && sinceStartMs < check.startPeriodSeconds * 1000;
  if (inStartPeriod) return { ...state, health: "starting" };
  const failures = state.consecutiveFailures + 1;
  if (failures >= check.failureThreshold)
    return { ...state, health: "unhealthy", consecutiveFailures: failures };
  return { ...state, consecutiveFailures: failures };
}
