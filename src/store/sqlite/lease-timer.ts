/**
 * One clock timer, armed for the earliest lease expiry. Nothing polls while no lease exists, which
 * keeps a ManualClock's pending timers meaningful in tests, and the wait is capped so that a wall
 * clock that jumps (expiry is measured with clock.now()) is noticed within one interval.
 */
import type { Clock, TimerHandle } from "../../ports/clock.js";

export class LeaseTimer {
  private handle: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly maxDelayMs: number,
    private readonly onDue: () => void,
  ) {}

  /** Re-arms for `expiresAt` (epoch ms); undefined means no lease is left, so no timer is needed. */
  arm(expiresAt: number | undefined): void {
    this.stop();
    if (expiresAt === undefined) return;
    const delay = Math.min(Math.max(0, expiresAt - this.clock.now()), this.maxDelayMs);
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.onDue();
    }, delay);
  }

  stop(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }
}
