/** Waiting for a condition on the host (a pidfile, a process exit) by polling on the injected clock. */
import type { Clock } from "../../ports/clock.js";

/**
 * Calls `check` every `intervalMs` until it returns a value other than undefined, or `timeoutMs`
 * passes; then resolves with that value, or undefined on timeout. `check` runs at least once.
 */
export async function pollUntil<T>(
  clock: Clock,
  timeoutMs: number,
  intervalMs: number,
  check: () => Promise<T | undefined>,
): Promise<T | undefined> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    const remaining = deadline - clock.now();
    if (remaining <= 0) return undefined;
    await clock.sleep(Math.min(intervalMs, remaining));
  }
}

/** Resolves with the promise's value, or undefined if it has not settled within `ms`. */
export async function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number): Promise<T | undefined> {
  let handle: { cancel(): void } | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    handle = clock.setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    handle?.cancel();
  }
}
