/** One node's view of virtual time: the shared clock plus a fixed skew, as real hosts' clocks drift. */
import type { Clock, TimerHandle } from "../ports/clock.js";

export class SkewedClock implements Clock {
  constructor(
    private readonly base: Clock,
    public skewMs: number,
  ) {}

  now(): number {
    return this.base.now() + this.skewMs;
  }

  /** Durations are unaffected by skew: timers fire after the same elapsed time on every node. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.base.setTimeout(fn, ms);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.base.sleep(ms, signal);
  }
}
