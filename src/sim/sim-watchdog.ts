/**
 * The node watchdog (daemon/watchdog/) on virtual time: a process next to each cluster node's daemon
 * that the daemon starts, replacing the previous one, and beats at every lease renewal that gets
 * through. Whenever the last beat is older than the lease TTL it kills every VM of the host, as the
 * real one does (it looks every 200 ms). It survives the daemon's death and dies with the host. The
 * heartbeat is a file on the host's disk: it outlives both.
 */
import type { Clock, TimerHandle } from "../ports/clock.js";

export const WATCHDOG_POLL_MS = 200;

/** The heartbeat file: its time, or undefined before the host's first daemon wrote it. */
export interface Heartbeat {
  at: number | undefined;
}

export class SimWatchdog {
  private timer: TimerHandle | undefined;
  private alive = true;
  /** The heartbeat when this watchdog started: the previous daemon's last renewal. */
  readonly lastBeat: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly heartbeat: Heartbeat,
    private readonly killVms: () => void,
  ) {
    // Starting creates the heartbeat file if there is none, as startNodeWatchdog does.
    this.lastBeat = heartbeat.at;
    heartbeat.at ??= clock.now();
    this.poll();
  }

  beat(): void {
    this.heartbeat.at = this.clock.now();
  }

  /** SIGTERM from the next daemon, or the host dying. */
  stop(): void {
    this.alive = false;
    this.timer?.cancel();
  }

  private poll(): void {
    this.timer = this.clock.setTimeout(() => {
      if (!this.alive) return;
      if (this.clock.now() - (this.heartbeat.at ?? 0) > this.ttlMs) this.killVms();
      this.poll();
    }, WATCHDOG_POLL_MS);
  }
}
