/**
 * The one composition of a node's loops: the agent, the node's registration (whose lost and regained
 * lease fences and unfences the agent in a cluster), the leader election and the scheduler it runs.
 * `blixard node` (daemon/run-node.ts), the simulator (sim/sim-node.ts) and the hollow-node benchmark
 * all start a node through it, so the simulator and the benchmark run the production wiring, not a
 * copy of it. The callers bring the ports: real adapters, or simulated ones.
 */
import { Agent } from "../agent/agent.js";
import type { AgentMetrics } from "../agent/agent-metrics.js";
import { NodeNetwork } from "../agent/node-network.js";
import { NodeRegistration } from "../agent/node-registration.js";
import { ServiceProxy } from "../agent/services/service-proxy.js";
import { VolumeAgent } from "../agent/volume-agent.js";
import { LeaderElection } from "../control/leader-election.js";
import { Scheduler } from "../control/scheduler.js";
import type { NodeRecord } from "../core/node-record.js";
import type { SchedulerConfig } from "../core/scheduling.js";
import type { ApplyNft } from "../ports/apply-nft.js";
import type { Clock } from "../ports/clock.js";
import type { HealthProber } from "../ports/health-prober.js";
import type { HostNetwork, OverlayConfig } from "../ports/host-network.js";
import type { Logger } from "../ports/logger.js";
import type { Random } from "../ports/random.js";
import type { Store } from "../ports/store.js";
import type { StopOptions, VmDriver } from "../ports/vm-driver.js";
import type { VolumeBackend } from "../ports/volume-backend.js";

export interface NodeServicesOptions {
  store: Store;
  driver: VmDriver;
  clock: Clock;
  logger: Logger;
  random: Random;
  prober: HealthProber;
  /** What the node registers: its id, address, labels, capacity and allowance. */
  record: NodeRecord;
  leaseTtlSeconds: number;
  scheduler: SchedulerConfig;
  stopOptions: StopOptions;
  agentMetrics?: AgentMetrics;
  /** How often the agent re-checks its VMs; 1 s by default. */
  resyncIntervalMs?: number;
  /**
   * A cluster node fences itself: when its lease may have expired it stops its VMs before the leader
   * can move them, and it starts fenced when its last renewal (by this process or the one before,
   * `lastRenewedAt`) is older than the TTL. A single node has nobody to hand its VMs to: undefined.
   */
  fencing?: { lastRenewedAt?: number; onRenewed?: () => void };
  /** Bridge networking (`--bridge-network on`): the host's overlay and how it is set up. */
  network?: { host: HostNetwork; config: OverlayConfig };
  /**
   * Load-balanced services (agent/services/): when given, the node keeps its `ip blixard-svc` nftables
   * table current (applied through `apply`, host ports on `hostAddresses`) and removes it on stop.
   * Off by default: the simulator and single nodes without bridge networking have no use for it.
   */
  serviceProxy?: { apply: ApplyNft; hostAddresses: readonly string[]; reservedPorts?: readonly number[] };
  /**
   * The volume backends this node holds volumes on and opens them through (docs/volumes.md): its
   * volume agent creates and removes the bytes of the volumes that name it. None by default.
   */
  volumeBackends?: readonly VolumeBackend[];
}

export class NodeServices {
  readonly agent: Agent;
  readonly registration: NodeRegistration;
  readonly network: NodeNetwork | undefined;
  readonly volumes: VolumeAgent | undefined;
  election: LeaderElection | undefined;
  scheduler: Scheduler | undefined;
  proxy: ServiceProxy | undefined;
  private abandoned = false;

  constructor(private readonly opts: NodeServicesOptions) {
    const { store, clock, logger, fencing } = opts;
    this.agent = new Agent({
      nodeId: opts.record.id,
      store,
      driver: opts.driver,
      clock,
      logger,
      prober: opts.prober,
      stopOptions: opts.stopOptions,
      ...(opts.agentMetrics ? { metrics: opts.agentMetrics } : {}),
      ...(opts.resyncIntervalMs === undefined ? {} : { resyncIntervalMs: opts.resyncIntervalMs }),
      ...(opts.volumeBackends ? { volumeBackends: opts.volumeBackends } : {}),
    });
    this.volumes = opts.volumeBackends
      ? new VolumeAgent({ nodeId: opts.record.id, store, clock, logger, backends: opts.volumeBackends })
      : undefined;
    const agent = this.agent;
    this.network = opts.network
      ? new NodeNetwork({ store, clock, logger, nodeId: opts.record.id, ...opts.network })
      : undefined;
    this.registration = new NodeRegistration({
      store,
      clock,
      logger,
      ttlSeconds: opts.leaseTtlSeconds,
      record: opts.record,
      ...(fencing
        ? {
            ...(fencing.lastRenewedAt === undefined ? {} : { lastRenewedAt: fencing.lastRenewedAt }),
            onLost: () => void agent.fence(),
            onRegained: () => agent.unfence(),
            ...(fencing.onRenewed ? { onRenewed: fencing.onRenewed } : {}),
          }
        : {}),
    });
  }

  /**
   * Registration first: a node that starts fenced starts no VM the leader may have moved elsewhere.
   * Then the agent (which re-adopts the VMs still running), then the campaign for the leadership.
   */
  async start(): Promise<void> {
    const registering = this.registration.start();
    // The bridge before the agent: the VMs it re-adopts or starts plug their taps into it.
    await this.network?.start();
    await this.agent.start();
    await this.volumes?.start();
    await registering;
    // The process died while it started: nothing more of it runs.
    if (this.abandoned) return;
    const { store, clock, logger } = this.opts;
    if (this.opts.serviceProxy) {
      this.proxy = new ServiceProxy({ store, clock, logger, ...this.opts.serviceProxy });
      await this.proxy.start();
    }
    const election = new LeaderElection({
      store,
      clock,
      logger,
      nodeId: this.opts.record.id,
      ttlSeconds: this.opts.leaseTtlSeconds,
      // A new leader looks at once instead of at the next tick.
      onElected: () => scheduler.poke(),
    });
    const scheduler = new Scheduler({
      store,
      clock,
      logger,
      random: this.opts.random,
      config: this.opts.scheduler,
      fence: () => (election.isLeader ? election.fence() : undefined),
      writer: this.opts.record.id,
    });
    this.election = election;
    this.scheduler = scheduler;
    scheduler.start();
    election.start();
  }

  /**
   * An orderly stop: the leadership is handed on, the agent stops following the store (and its VMs
   * too with `stopVms`). A cluster node (`keepLease`) lets its lease run out instead of withdrawing
   * it: its VMs keep running if it restarts within the TTL, and otherwise its watchdog kills them
   * before the leader moves them. A single node says at once that it is gone.
   */
  async stop(options: { stopVms: boolean; keepLease: boolean }): Promise<void> {
    this.scheduler?.stop();
    await this.election?.resign();
    await this.proxy?.stop();
    this.volumes?.stop();
    await this.agent.shutdown({ stopVms: options.stopVms });
    // dnsmasq stops; the devices stay while VMs run on (their taps are plugged into the bridge).
    await this.network?.stop({ removeDevices: options.stopVms });
    if (options.keepLease) this.registration.abandon();
    else await this.registration.stop();
  }

  /** The process dies: nothing is handed on or withdrawn; its VMs keep running. */
  abandon(): void {
    this.abandoned = true;
    this.registration.abandon();
    this.election?.abandon();
    this.scheduler?.stop();
    this.volumes?.stop();
    void this.agent.shutdown({ stopVms: false }).catch(() => undefined);
  }
}
