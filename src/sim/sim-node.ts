/**
 * One simulated host: its driver (the VMs survive agent restarts), its view of the store and clock, and
 * its agent. Each agent incarnation gets its own store connection and driver handle; killing the agent
 * revokes both, so a dead agent's unfinished work can never act after its death, as with a real process.
 */
import { Agent } from "../agent/agent.js";
import type { HealthProber } from "../ports/health-prober.js";
import { silentLogger } from "../ports/logger.js";
import type { ManualClock } from "../ports/manual-clock.js";
import type { Store } from "../ports/store.js";
import type { VmDriver } from "../ports/vm-driver.js";
import { FaultyStore, type StoreFaults } from "./faulty-store.js";
import { RevocableDriver } from "./revocable-driver.js";
import type { SeededRandom } from "./seeded-random.js";
import { type DriverFaults, SimDriver } from "./sim-driver.js";
import { SkewedClock } from "./skewed-clock.js";

/** Wraps the ports each agent incarnation is given; only planted bugs (planted-bugs.ts) use it. */
export interface PortWrappers {
  store?(node: SimNode, store: Store): Store;
  driver?(node: SimNode, driver: VmDriver): VmDriver;
}

const STOP_OPTIONS = { gracefulTimeoutMs: 10_000, quitTimeoutMs: 5_000, killTimeoutMs: 5_000 };
const prober: HealthProber = { tcp: async () => true, http: async () => true };

export class SimNode {
  readonly driver: SimDriver;
  readonly clock: SkewedClock;
  agent: Agent | undefined;
  incarnation = 0;
  wrappers: PortWrappers = {};
  private connection: FaultyStore | undefined;
  private handle: RevocableDriver | undefined;
  private cut = false;
  private storeFaults: StoreFaults;

  constructor(
    readonly id: string,
    private readonly base: { store: Store; clock: ManualClock; random: SeededRandom },
    storeFaults: StoreFaults,
    driverFaults: DriverFaults,
    pidBase: number,
  ) {
    this.storeFaults = storeFaults;
    this.clock = new SkewedClock(base.clock, 0);
    this.driver = new SimDriver(base.clock, base.random.fork(`${id}/driver`), driverFaults, pidBase);
  }

  get up(): boolean {
    return this.agent !== undefined;
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

  /** Starts a fresh agent; it re-adopts whatever VMs still run on this host. */
  async startAgent(): Promise<void> {
    this.incarnation++;
    const connection = new FaultyStore(
      this.base.store,
      this.base.clock,
      this.base.random.fork(`${this.id}/store/${this.incarnation}`),
      this.storeFaults,
    );
    connection.partitioned = this.cut;
    const handle = new RevocableDriver(this.driver);
    this.connection = connection;
    this.handle = handle;
    const agent = new Agent({
      nodeId: this.id,
      store: this.wrappers.store?.(this, connection) ?? connection,
      driver: this.wrappers.driver?.(this, handle) ?? handle,
      clock: this.clock,
      logger: silentLogger,
      prober,
      stopOptions: STOP_OPTIONS,
      resyncIntervalMs: 1000,
    });
    this.agent = agent;
    await agent.start();
  }

  /** The agent process dies; its VMs keep running and its connections are gone. */
  crashAgent(): void {
    if (this.connection) this.connection.killed = true;
    this.handle?.revoke();
    void this.agent?.shutdown({ stopVms: false }).catch(() => undefined);
    this.agent = undefined;
    this.connection = undefined;
    this.handle = undefined;
  }

  /** The whole host dies: agent and VMs. */
  crashHost(): void {
    this.crashAgent();
    this.driver.crashAll();
  }
}
