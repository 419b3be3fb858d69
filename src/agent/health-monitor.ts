/**
 * Probes one running VM's health check on its interval and reports each change of health.
 * Console checks follow the serial log from the offset where this boot began, so a line from an
 * earlier boot never counts. Their pattern runs on RE2 (linear time): the guest writes the text and a
 * user wrote the pattern, and a backtracking engine here would stall the whole node.
 */
import { compileConsolePattern } from "../core/console-pattern.js";
import { type HealthTracker, initialHealth, nextHealth } from "../core/health.js";
import { type HealthCheck, healthCheckTarget, type VmSpec } from "../core/vm-spec.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { HealthProber } from "../ports/health-prober.js";
import type { Logger } from "../ports/logger.js";
import type { VmDriver } from "../ports/vm-driver.js";

/** Bytes of console output kept for matching, so a pattern split across two reads still matches. */
const CONSOLE_WINDOW = 8192;

export interface HealthMonitorDeps {
  clock: Clock;
  prober: HealthProber;
  driver: VmDriver;
  logger: Logger;
}

export class HealthMonitor {
  private state: HealthTracker;
  private timer: TimerHandle | undefined;
  private readonly abort = new AbortController();
  private consoleMatched = false;
  private stopped = false;

  constructor(
    private readonly deps: HealthMonitorDeps,
    private readonly name: string,
    private readonly spec: VmSpec,
    /** The VM's cluster address in bridge mode, where TCP and HTTP checks connect. */
    private readonly address: string | undefined,
    private readonly check: HealthCheck,
    private readonly startedAt: number,
    private readonly consoleOffset: number,
    private readonly onChange: (state: HealthTracker) => void,
    resumeHealthy = false,
  ) {
    this.state = resumeHealthy
      ? { health: "healthy", consecutiveFailures: 0, everHealthy: true }
      : initialHealth;
    if (resumeHealthy) this.consoleMatched = true;
  }

  get current(): HealthTracker {
    return this.state;
  }

  start(): void {
    if (this.check.type === "console" && !this.consoleMatched) void this.followConsole(this.check.pattern);
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.abort.abort();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const ok = await this.probe().catch(() => false);
    if (this.stopped) return;
    const next = nextHealth(this.state, this.check, ok, this.deps.clock.now() - this.startedAt);
    const changed = next.health !== this.state.health;
    this.state = next;
    if (changed) this.onChange(next);
    this.schedule(this.check.intervalSeconds * 1000);
  }

  private probe(): Promise<boolean> {
    const timeoutMs = this.check.timeoutSeconds * 1000;
    const check = this.check;
    if (check.type === "console") return Promise.resolve(this.consoleMatched);
    const target = healthCheckTarget(this.spec, this.address);
    if (target === undefined) return Promise.resolve(false);
    if (check.type === "tcp") return this.deps.prober.tcp(target, timeoutMs);
    return this.deps.prober.http(target, check.path, timeoutMs);
  }

  private async followConsole(pattern: string): Promise<void> {
    let window = "";
    try {
      // Inside the try: a record that slipped past validation fails this check, not the agent.
      const regex = compileConsolePattern(pattern);
      for await (const chunk of this.deps.driver.followLogs(
        this.name,
        this.consoleOffset,
        this.abort.signal,
      )) {
        window = (window + chunk).slice(-CONSOLE_WINDOW);
        if (regex.test(window)) {
          this.consoleMatched = true;
          // Report readiness at once rather than at the next interval tick.
          this.timer?.cancel();
          this.schedule(0);
          return;
        }
      }
    } catch (err) {
      if (!this.abort.signal.aborted) {
        this.deps.logger.warn(
          { vm: this.name, err: String(err) },
          "console health check stopped reading the log",
        );
      }
    }
  }
}
