/** Exponential restart backoff: initial * 2^(failures-1), capped at max. */
export interface Backoff {
  initialSeconds: number;
  maxSeconds: number;
}

export function backoffDelayMs(backoff: Backoff, consecutiveFailures: number): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  const seconds = Math.min(backoff.maxSeconds, backoff.initialSeconds * 2 ** Math.min(exponent, 30));
  return Math.round(seconds * 1000);
}

/** A VM that ran this long since its last start is considered stable and its failure count resets. */
export function stableAfterMs(backoff: Backoff): number {
  return Math.max(10_000, backoff.maxSeconds * 1000);
}
