/**
 * The health monitors of a node's running VMs (health-monitor.ts), one per VM with a health check:
 * started once the VM runs, stopped when it stops, is fenced or is taken off the node.
 */
import type { HealthTracker } from "../core/health.js";
import type { VmRecord, VmStatus } from "../core/vm-record.js";
import type { Clock } from "../ports/clock.js";
import type { HealthProber } from "../ports/health-prober.js";
import type { Logger } from "../ports/logger.js";
import type { VmDriver } from "../ports/vm-driver.js";
import { HealthMonitor } from "./health-monitor.js";

export interface HealthMonitorsOptions {
  clock: Clock;
  prober: HealthProber;
  driver: VmDriver;
  logger: Logger;
  /** The VM's health changed; `startedAt` is when the process it judges started (epoch ms). */
  onChange: (name: string, startedAt: number, state: HealthTracker) => void;
}

export class HealthMonitors {
  private readonly monitors = new Map<string, HealthMonitor>();

  constructor(private readonly opts: HealthMonitorsOptions) {}

  /** Starts watching a running VM with a health check, unless it is watched already. */
  ensure(record: VmRecord, status: VmStatus): void {
    const check = record.spec.healthCheck;
    if (!check || status.phase !== "Running" || status.pid === null || this.monitors.has(record.name)) return;
    const { clock, prober, driver, logger } = this.opts;
    const startedAt = status.startedAt ? Date.parse(status.startedAt) : clock.now();
    const monitor = new HealthMonitor(
      { clock, prober, driver, logger },
      record.name,
      record.spec,
      record.address,
      check,
      startedAt,
      status.consoleOffset,
      (state) => this.opts.onChange(record.name, startedAt, state),
      status.health === "healthy",
    );
    this.monitors.set(record.name, monitor);
    monitor.start();
  }

  stop(name: string): void {
    this.monitors.get(name)?.stop();
    this.monitors.delete(name);
  }

  stopAll(): void {
    for (const monitor of this.monitors.values()) monitor.stop();
    this.monitors.clear();
  }
}
