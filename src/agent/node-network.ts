/**
 * Keeps this node's host network in step with the store, for bridge-mode VMs: the VXLAN peers (every
 * other node's overlay endpoint, from the node registry, as nodes come and go: like flannel's vxlan
 * backend), the DHCP leases of the VMs assigned here (MAC and address from the VM's cluster address),
 * and the DNS names guests resolve (`<vm>.vm.<domain>` from the address claims, `<group>.group.<domain>`
 * for the group's serving members: running and healthy, from their statuses). Changes are coalesced:
 * a burst of creates costs one update of each kind. The claims and statuses are the cluster's, so a
 * node with bridge networking receives every VM's address and status changes (as kube-proxy receives
 * every endpoint); nodes without it watch none of this.
 */
import type { AddressHolder } from "../core/address-holder.js";
import type { NodeRecord } from "../core/node-record.js";
import { macForAddress } from "../core/vm-network.js";
import { type Assignment, isServing, type VmStatus } from "../core/vm-record.js";
import type { Clock, TimerHandle } from "../ports/clock.js";
import type { DhcpLease, HostName, HostNetwork, OverlayConfig } from "../ports/host-network.js";
import type { Logger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import {
  addressCollection,
  assignmentCollection,
  nodeCollection,
  statusCollection,
} from "../state/collections.js";
import { Informer } from "../state/informer.js";

export interface NodeNetworkOptions {
  store: Store;
  clock: Clock;
  logger: Logger;
  nodeId: string;
  host: HostNetwork;
  config: OverlayConfig;
  /** How long changes are gathered before the host is updated; 50 ms by default. */
  coalesceMs?: number;
}

/** What the host should hold; compared as JSON so that an unchanged set costs no host command. */
interface Wanted {
  peers: string[];
  leases: DhcpLease[];
  names: HostName[];
}

export class NodeNetwork {
  private readonly log: Logger;
  private readonly nodes: Informer<NodeRecord>;
  private readonly assignments: Informer<Assignment>;
  private readonly addresses: Informer<AddressHolder>;
  private readonly statuses: Informer<VmStatus>;
  private applied: { [K in keyof Wanted]?: string } = {};
  private timer: TimerHandle | undefined;
  private running = false;
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly opts: NodeNetworkOptions) {
    this.log = opts.logger.child({ component: "node-network" });
    const common = { store: opts.store, clock: opts.clock, logger: opts.logger };
    const changed = () => this.schedule();
    this.nodes = new Informer({ ...common, collection: nodeCollection, onReset: changed, onChange: changed });
    this.assignments = new Informer({
      ...common,
      collection: assignmentCollection(opts.nodeId),
      onReset: changed,
      onChange: changed,
    });
    this.addresses = new Informer({
      ...common,
      collection: addressCollection,
      onReset: changed,
      onChange: changed,
    });
    // Only whether a VM serves matters here: a status write that keeps it (a restart count, a
    // timestamp) changes nothing.
    this.statuses = new Informer({
      ...common,
      collection: statusCollection,
      onReset: changed,
      onChange: (_name, next, previous) => {
        if (isServing(next?.value) !== isServing(previous?.value)) changed();
      },
    });
  }

  /** Brings the host's overlay up, then follows the store. */
  async start(): Promise<void> {
    await this.opts.host.up(this.opts.config);
    this.running = true;
    await Promise.all(this.informers().map((i) => i.start()));
    await this.flush();
  }

  /** Stops following; dnsmasq stops, and the devices go too when no VM of this node runs on. */
  async stop(options: { removeDevices: boolean }): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    for (const informer of this.informers()) informer.stop();
    await this.applying.catch(() => undefined);
    await this.opts.host.down(options);
  }

  private informers() {
    return [this.nodes, this.assignments, this.addresses, this.statuses] as const;
  }

  /** Applies what is pending now, without waiting for the coalescing delay. */
  async flush(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    this.run();
    await this.applying;
  }

  private schedule(delayMs = this.opts.coalesceMs ?? 50): void {
    if (!this.running || this.timer !== undefined) return;
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, delayMs);
  }

  private run(): void {
    this.applying = this.applying
      .then(() => this.apply())
      .catch((err: unknown) => {
        this.log.warn({ err: String(err) }, "could not update the host network; retrying in 1 s");
        this.applied = {};
        this.schedule(1000);
      });
  }

  private async apply(): Promise<void> {
    if (!this.running) return;
    const wanted = this.wanted();
    const host = this.opts.host;
    const steps: { [K in keyof Wanted]: (value: Wanted[K]) => Promise<void> } = {
      peers: (peers) => host.setPeers(peers),
      leases: (leases) => host.setLeases(leases),
      names: (names) => host.setNames(names),
    };
    for (const key of ["peers", "leases", "names"] as const) {
      const text = JSON.stringify(wanted[key]);
      if (this.applied[key] === text) continue;
      await (steps[key] as (value: unknown) => Promise<void>)(wanted[key]);
      this.applied[key] = text;
    }
  }

  private wanted(): Wanted {
    const { nodeId, config } = this.opts;
    const peers = [...this.nodes.values().values()]
      .filter((n) => n.id !== nodeId && n.overlay !== undefined)
      .map((n) => n.overlay!.vtep)
      .filter((vtep) => vtep !== config.vtep)
      .sort();
    const leases = [...this.assignments.values().values()]
      .flatMap(({ record }) =>
        record.address === undefined
          ? []
          : [{ mac: macForAddress(record.address), address: record.address, hostname: record.name }],
      )
      .sort((a, b) => a.hostname.localeCompare(b.hostname));
    return { peers: [...new Set(peers)], leases, names: this.names() };
  }

  private names(): HostName[] {
    const { domain } = this.opts.config;
    const byName = new Map<string, string[]>();
    const add = (name: string, address: string) => byName.set(name, [...(byName.get(name) ?? []), address]);
    for (const [address, holder] of this.addresses.values()) {
      if ("vm" in holder) {
        add(`${holder.vm}.vm.${domain}`, address);
        if (holder.group && isServing(this.statuses.get(holder.vm)?.value)) {
          add(`${holder.group}.group.${domain}`, address);
        }
      } else if ("node" in holder) {
        add(`${holder.node}.node.${domain}`, address);
      }
    }
    return [...byName]
      .map(([name, addresses]) => ({ name, addresses: addresses.sort() }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
