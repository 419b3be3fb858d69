/**
 * One simulated host: its driver (the VMs survive agent restarts), its view of the store and clock, its
 * watchdog, and its node process. Each process incarnation runs what `blixard node` runs in a cluster:
 * the agent, the node's registration (whose lost and regained lease fences and unfences the agent and
 * beats the watchdog), the leader election and the scheduler. Each incarnation gets its own store
 * connection and driver handle; killing the process revokes both, so a dead process's unfinished work
 * can never act after its death, as with a real process.
 */
import type { NodeAllowance, NodeCapacity } from "../core/node-record.js";
import type { Strategy } from "../core/placement.js";
import { MemoryDriver } from "../drivers/memory/memory-driver.js";
import { type DriverFaults, MemoryHost } from "../drivers/memory/memory-host.js";
import { NodeServices } from "../node/node-services.js";
import type { HealthProber } from "../ports/health-prober.js";
import { type Logger, silentLogger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import type { VmDriver } from "../ports/vm-driver.js";
import { GroupCommitStore } from "../store/group-commit/group-commit-store.js";
import type { ManualClock } from "../testing/manual-clock.js";
import { FaultyStore, type StoreFaults } from "./faulty-store.js";
import type { SeededRandom } from "./seeded-random.js";
import { type Heartbeat, SimWatchdog } from "./sim-watchdog.js";
import { SkewedClock } from "./skewed-clock.js";

/** The host's hardware and the flags its node process runs with. */
export interface SimNodeConfig {
  capacity: NodeCapacity;
  allowance: NodeAllowance;
  labels: Record<string, string>;
  /** Clock skew of this host against the store's time. */
  skewMs: number;
  leaseTtlSeconds: number;
  failoverGraceMs: number;
  placementStrategy: Strategy;
}

/** Wraps the ports each agent incarnation is given; only planted bugs (planted-bugs.ts) use it. */
export interface PortWrappers {
  store?(node: SimNode, store: Store): Store;
  driver?(node: SimNode, driver: VmDriver): VmDriver;
}

const STOP_OPTIONS = { gracefulTimeoutMs: 10_000, quitTimeoutMs: 5_000, killTimeoutMs: 5_000 };
const prober: HealthProber = { tcp: async () => true, http: async () => true };

export class SimNode {
  /** The node's hypervisor: its VMs outlive an agent and die with the host. */
  readonly driver: MemoryHost;
  readonly clock: SkewedClock;
  /** Where the node's services log: silent unless the run is verbose. */
  logger: Logger = silentLogger;
  /** The node process's loops, wired as `blixard node` wires them (node/node-services.ts). */
  services: NodeServices | undefined;
  watchdog: SimWatchdog | undefined;
  /** The watchdog's heartbeat file, on the host's disk. */
  readonly heartbeat: Heartbeat = { at: undefined };
  incarnation = 0;
  wrappers: PortWrappers = {};
  private connection: FaultyStore | undefined;
  private handle: MemoryDriver | undefined;
  private cut = false;
  private storeFaults: StoreFaults;

  constructor(
    readonly id: string,
    private readonly base: { store: Store; clock: ManualClock; random: SeededRandom },
    readonly config: SimNodeConfig,
    storeFaults: StoreFaults,
    driverFaults: DriverFaults,
    pidBase: number,
  ) {
    this.storeFaults = storeFaults;
    this.clock = new SkewedClock(base.clock, config.skewMs);
    this.driver = new MemoryHost({
      clock: base.clock,
      random: base.random.fork(`${id}/driver`),
      faults: driverFaults,
      pidBase,
    });
  }

  get up(): boolean {
    return this.services !== undefined;
  }

  /** A network partition between this host and the store. */
  get partitioned(): boolean {
    return this.cut;
  }

  set partitioned(value: boolean) {
    this.cut = value;
    if (this.connection) this.connection.partitioned = value;
  }

  set faults(faults: StoreFaults) {
    this.storeFaults = faults;
    if (this.connection) this.connection.faults = faults;
  }

  /**
   * Starts a fresh node process through the composition `blixard node` uses (node/node-services.ts)
   * with a cluster node's fencing: it replaces the watchdog, starts the registration (which fences
   * the node at once when the previous process last renewed more than a TTL ago), then the agent
   * (which re-adopts whatever VMs still run on this host), and campaigns for the leadership that runs
   * the scheduler.
   */
  async startAgent(): Promise<void> {
    this.incarnation++;
    const incarnation = this.incarnation;
    const connection = new FaultyStore(
      this.base.store,
      this.base.clock,
      this.base.random.fork(`${this.id}/store/${incarnation}`),
      this.storeFaults,
    );
    connection.partitioned = this.cut;
    // One driver per agent process: revoked when that process dies.
    const handle = new MemoryDriver(this.driver, "sim");
    this.connection = connection;
    this.handle = handle;
    // As a cluster node's etcd store is: concurrent transactions share round trips.
    const grouped = new GroupCommitStore(connection);
    const store = this.wrappers.store?.(this, grouped) ?? grouped;
    const ttlSeconds = this.config.leaseTtlSeconds;
    this.watchdog?.stop();
    const watchdog = new SimWatchdog(this.clock, ttlSeconds * 1000, this.heartbeat, () => {
      const killed = this.driver.running();
      if (killed.length === 0) return;
      this.driver.crashAll();
      this.logger.warn({ component: "watchdog", killed }, "lease heartbeat is stale: killed this node's VMs");
    });
    this.watchdog = watchdog;
    const services = new NodeServices({
      store,
      driver: this.wrappers.driver?.(this, handle) ?? handle,
      clock: this.clock,
      logger: this.logger,
      random: this.base.random.fork(`${this.id}/scheduler/${incarnation}`),
      prober,
      record: {
        id: this.id,
        apiUrl: `sim://${this.id}`,
        labels: this.config.labels,
        capacity: this.config.capacity,
        allowance: this.config.allowance,
        startedAt: new Date(this.clock.now()).toISOString(),
      },
      leaseTtlSeconds: ttlSeconds,
      scheduler: { defaultStrategy: this.config.placementStrategy, graceMs: this.config.failoverGraceMs },
      stopOptions: STOP_OPTIONS,
      resyncIntervalMs: 1000,
      fencing: {
        ...(watchdog.lastBeat === undefined ? {} : { lastRenewedAt: watchdog.lastBeat }),
        onRenewed: () => watchdog.beat(),
      },
    });
    this.services = services;
    await services.start();
  }

  /** The agent process dies; its VMs keep running and its connections are gone. */
  crashAgent(): void {
    if (this.connection) this.connection.killed = true;
    this.handle?.revoke();
    this.services?.abandon();
    this.services = undefined;
    this.connection = undefined;
    this.handle = undefined;
  }

  /** The whole host dies: agent and VMs. */
  crashHost(): void {
    this.crashAgent();
    this.watchdog?.stop();
    this.watchdog = undefined;
    this.driver.crashAll();
  }
}
