/**
 * Backoff for a loop that retries against a failing dependency (a store reload, a watch): each
 * consecutive failure doubles the wait, up to a cap, and success starts again from the first wait.
 * Without it a store that fails every write (a full disk) turned the scheduler's reload-and-retry
 * into a hot loop: 9,177 warnings in 4.5 s. Pure: the caller passes its injected clock's time.
 */
import { type Backoff, backoffDelayMs } from "./backoff.js";

export interface RetryBackoffOptions extends Backoff {
  /** Retry the first failure at once (a lost reply is usually a blip); back off from the second. */
  firstAtOnce?: boolean;
}

export class RetryBackoff {
  private failures = 0;
  private lastFailureAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: RetryBackoffOptions) {}

  /** Records a failure at `now` and returns how long to wait before the next attempt. */
  failed(now: number): number {
    // A failure long after the last one starts a new series: the loop has been working meanwhile.
    if (now - this.lastFailureAt > 2 * this.options.maxSeconds * 1000) this.failures = 0;
    this.lastFailureAt = now;
    this.failures++;
    if (this.options.firstAtOnce)
      return this.failures === 1 ? 0 : backoffDelayMs(this.options, this.failures - 1);
    return backoffDelayMs(this.options, this.failures);
  }

  /** The dependency worked: the next failure waits the first delay again. */
  succeeded(): void {
    this.failures = 0;
    this.lastFailureAt = Number.NEGATIVE_INFINITY;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}
