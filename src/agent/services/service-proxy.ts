/**
 * The node's service proxy: keeps the `ip blixard-svc` nftables table (service-table.ts) equal to
 * what the store says, the way kube-proxy's nftables mode does. Informers follow the services, the
 * VM records, their placements and their status reports; any change schedules one rebuild after a
 * short pause, so a burst (a group of twenty VMs starting, a node's reports after a restart) costs
 * one `nft -f` instead of twenty. The text is applied only when it differs from what was applied
 * last. A failed apply is retried after a pause; the previous rules stay in force meanwhile (nft
 * applies all of a file or none of it). Stopping removes the table.
 */
import { errorMessage } from "../../core/errors.js";
import { keys } from "../../core/keys.js";
import { serviceMembers } from "../../core/service-members.js";
import { clusterSubnetsOf } from "../../core/service-network.js";
import type { ServiceRecord } from "../../core/service-record.js";
import type { Placement, VmRecord, VmStatus } from "../../core/vm-record.js";
import type { ApplyNft } from "../../ports/apply-nft.js";
import type { Clock, TimerHandle } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import type { Store } from "../../ports/store.js";
import { placementCollection, statusCollection, vmCollection } from "../../state/collections.js";
import { Informer } from "../../state/informer.js";
import { serviceCollection } from "./service-collection.js";
import { buildServiceTable, removeServiceTable, type ServiceRules } from "./service-table.js";

export interface ServiceProxyOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  apply: ApplyNft;
  /** The node's own addresses (its underlay address): where a service's host port is served. */
  hostAddresses: readonly string[];
  /** The node's own ports (API, etcd client and peer): never served as host ports. */
  reservedPorts?: readonly number[];
  /** How long changes are gathered before one rebuild; 100 ms by default. */
  coalesceMs?: number;
  /** The pause before a failed apply is tried again; 1 s by default. */
  retryMs?: number;
}

export class ServiceProxy {
  private readonly services: Informer<ServiceRecord>;
  private readonly vms: Informer<VmRecord>;
  private readonly placements: Informer<Placement>;
  private readonly statuses: Informer<VmStatus>;
  private readonly log: Logger;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private applied: string | undefined;
  private lastSkipped = "";
  private ranges: ReturnType<typeof clusterSubnetsOf> | undefined;
  /** How many times the table was written: for tests and metrics. */
  applies = 0;

  constructor(private readonly opts: ServiceProxyOptions) {
    this.log = opts.logger.child({ component: "service-proxy" });
    const common = {
      store: opts.store,
      clock: opts.clock,
      logger: this.log,
      onReset: () => this.schedule(),
      onChange: () => this.schedule(),
    };
    this.services = new Informer({ ...common, collection: serviceCollection });
    // Only VMs that can be members matter: in a group, with a cluster address.
    this.vms = new Informer({
      ...common,
      collection: vmCollection,
      select: (vm) => vm.group !== undefined && vm.address !== undefined,
    });
    this.placements = new Informer({ ...common, collection: placementCollection });
    this.statuses = new Informer({ ...common, collection: statusCollection });
  }

  private get informers() {
    return [this.services, this.vms, this.placements, this.statuses] as const;
  }

  /** Lists everything once (rejects when a list fails), then follows; the first rules come at once. */
  async start(): Promise<void> {
    // The ranges are fixed for the cluster's life (a node with other settings refuses to start).
    this.ranges = clusterSubnetsOf((await this.opts.store.get(keys.network))?.value);
    await Promise.all(this.informers.map((i) => i.start()));
  }

  /** Stops following and removes the table; the node no longer balances anything. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    for (const informer of this.informers) informer.stop();
    await this.running;
    try {
      await this.opts.apply(removeServiceTable());
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "could not remove the service rules");
    }
  }

  /** Resolves once no rebuild is scheduled or running: the table says what the informers hold. */
  async settled(): Promise<void> {
    while (this.timer || this.running) {
      await this.running;
      if (this.timer) await this.opts.clock.sleep(this.opts.coalesceMs ?? 100);
    }
  }

  /** The services and their members as the table renders them. */
  rules(): ServiceRules[] {
    // Each service looks only at its own group: a rebuild costs the VMs once, not once per service.
    const byGroup = new Map<string, VmRecord[]>();
    for (const vm of this.vms.values().values()) {
      if (vm.group === undefined) continue;
      const group = byGroup.get(vm.group);
      if (group) group.push(vm);
      else byGroup.set(vm.group, [vm]);
    }
    const statuses = this.statuses.values();
    const placements = this.placements.values();
    return [...this.services.values().values()].map((s) => ({
      name: s.name,
      address: s.address,
      port: s.spec.port,
      protocol: s.spec.protocol,
      ...(s.spec.hostPort === undefined ? {} : { hostPort: s.spec.hostPort }),
      members: serviceMembers(s.spec, { vms: byGroup.get(s.spec.group) ?? [], statuses, placements }).map(
        ({ address, port }) => ({ address, port }),
      ),
    }));
  }

  private schedule(delay = this.opts.coalesceMs ?? 100): void {
    if (this.stopped || this.timer) return;
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
  }

  /** One rebuild at a time; changes during one bring another after it. */
  private kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.rebuild().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    });
  }

  private async rebuild(): Promise<void> {
    if (this.stopped || !this.informers.every((i) => i.ready)) return;
    const { script, skipped } = buildServiceTable(this.rules(), {
      hostAddresses: this.opts.hostAddresses,
      reservedPorts: this.opts.reservedPorts ?? [],
      ...(this.ranges ? { ranges: { service: this.ranges.service.cidr, vm: this.ranges.vm.cidr } } : {}),
    });
    const report = JSON.stringify(skipped);
    if (skipped.length > 0 && report !== this.lastSkipped) {
      this.log.warn({ skipped }, "services left out of the node's rules");
    }
    this.lastSkipped = report;
    if (script === this.applied) return;
    try {
      await this.opts.apply(script);
      this.applied = script;
      this.applies++;
      this.log.debug({ services: this.services.values().size }, "service rules applied");
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "could not apply the service rules; retrying");
      this.schedule(this.opts.retryMs ?? 1000);
    }
  }
}
