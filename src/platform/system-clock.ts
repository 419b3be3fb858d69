/** The production Clock: wall time and Node timers. */
import { setTimeout as sleep } from "node:timers/promises";
import type { Clock, TimerHandle } from "../ports/clock.js";

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  sleep: (ms: number, signal?: AbortSignal) => sleep(ms, undefined, signal ? { signal } : undefined),
};
