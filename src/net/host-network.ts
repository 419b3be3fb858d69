/**
 * The Linux host network of a node with bridge networking: the bridge, the VXLAN device and its
 * peers, the node's nftables tables, and its dnsmasq, made from this directory's parts. Implements
 * the HostNetwork port that the agent's NodeNetwork drives from the store.
 */

import { rm } from "node:fs/promises";
import { BRIDGE_DEVICE, OVERLAY_MTU, TAP_PREFIX, tapForAddress, VXLAN_DEVICE } from "../core/vm-network.js";
import type { Clock } from "../ports/clock.js";
import type { DhcpLease, HostName, HostNetwork, OverlayConfig } from "../ports/host-network.js";
import type { Logger } from "../ports/logger.js";
import { ensureBridge, removeBridge } from "./bridge.js";
import type { HostName as DnsmasqName } from "./dnsmasq-config.js";
import { DnsmasqProcess } from "./dnsmasq-process.js";
import { enableIpv4Forwarding } from "./forwarding.js";
import { HostTools } from "./host-tools.js";
import { buildRuleset } from "./nft-ruleset.js";
import { applyRuleset, removeTables } from "./nftables.js";
import { listTaps, removeTap } from "./tap.js";
import { ensureVxlan, removeVxlan, setVxlanPeers } from "./vxlan.js";

/** IANA's VXLAN port. */
export const VXLAN_PORT = 4789;

export interface LinuxHostNetworkOptions {
  /** Where dnsmasq keeps its config, lease data, pid file and log (the node's data dir). */
  dir: string;
  clock: Clock;
  logger: Logger;
  /** Where to act (a test's namespace); the node's own when unset. */
  tools?: HostTools;
}

export class LinuxHostNetwork implements HostNetwork {
  private readonly tools: HostTools;
  private config: OverlayConfig | undefined;
  private dnsmasq: DnsmasqProcess | undefined;
  private peers: readonly string[] = [];
  private leases: readonly DhcpLease[] = [];
  private names: readonly HostName[] = [];
  /** Whether up() turned IPv4 forwarding on: then it is turned off again when the devices go. */
  private turnedOnForwarding = false;

  constructor(private readonly opts: LinuxHostNetworkOptions) {
    this.tools = opts.tools ?? new HostTools();
  }

  async up(config: OverlayConfig): Promise<void> {
    this.config = config;
    const { tools } = this;
    await ensureBridge(tools, {
      name: BRIDGE_DEVICE,
      address: config.bridgeAddress,
      prefixLength: config.prefixLength,
      mtu: OVERLAY_MTU,
    });
    await ensureVxlan(tools, {
      name: VXLAN_DEVICE,
      vni: config.vni,
      local: config.vtep,
      port: VXLAN_PORT,
      bridge: BRIDGE_DEVICE,
      mtu: OVERLAY_MTU,
    });
    await this.applyRules();
    // The node routes for its guests: to a service's members (DNAT) and beyond the overlay
    // (masquerade). The tables' forward rules say what it routes for them.
    if (await enableIpv4Forwarding(tools)) {
      this.turnedOnForwarding = true;
      this.opts.logger.info({}, "turned on IPv4 forwarding for bridge-mode VMs");
    }
    this.dnsmasq = new DnsmasqProcess({
      settings: {
        dir: this.opts.dir,
        bridge: BRIDGE_DEVICE,
        bridgeAddress: config.bridgeAddress,
        vmCidr: config.vmCidr,
        mtu: OVERLAY_MTU,
        domain: config.domain,
      },
      clock: this.opts.clock,
      logger: this.opts.logger,
      tools,
    });
    await this.dnsmasq.start();
    await this.writeHosts();
  }

  async setPeers(peers: readonly string[]): Promise<void> {
    this.peers = peers;
    await setVxlanPeers(this.tools, VXLAN_DEVICE, [...peers]);
    // Guests must not reach another node's API or etcd through the overlay's gateway either.
    await this.applyRules();
  }

  async setLeases(leases: readonly DhcpLease[]): Promise<void> {
    this.leases = leases;
    // Each VM's tap may send only from its MAC and address: the leases say which those are.
    await this.applyRules();
    await this.writeHosts();
  }

  async setNames(names: readonly HostName[]): Promise<void> {
    this.names = names;
    await this.writeHosts();
  }

  async down(options: { removeDevices: boolean }): Promise<void> {
    const dnsmasq = this.dnsmasq;
    await dnsmasq?.stop();
    this.dnsmasq = undefined;
    if (!options.removeDevices) return;
    await dnsmasq?.removeFiles();
    const { tools } = this;
    await removeTables(tools);
    for (const tap of await listTaps(tools, TAP_PREFIX)) await removeTap(tools, tap);
    await removeVxlan(tools, VXLAN_DEVICE);
    await removeBridge(tools, BRIDGE_DEVICE);
    await rm(this.opts.dir, { recursive: true, force: true });
    if (this.turnedOnForwarding) await tools.run("sysctl", ["-qw", "net.ipv4.ip_forward=0"]);
    this.turnedOnForwarding = false;
  }

  private async applyRules(): Promise<void> {
    const config = this.config;
    if (!config) return;
    await applyRuleset(
      this.tools,
      buildRuleset({
        bridge: BRIDGE_DEVICE,
        vxlan: VXLAN_DEVICE,
        bridgeAddress: config.bridgeAddress,
        vmCidr: config.vmCidr,
        nodeAddresses: [...new Set([config.vtep, ...this.peers])],
        tapPrefix: TAP_PREFIX,
        guests: this.leases.map((l) => ({ tap: tapForAddress(l.address), mac: l.mac, address: l.address })),
      }),
    );
  }

  private async writeHosts(): Promise<void> {
    if (!this.dnsmasq) return;
    const byAddress = new Map<string, string[]>();
    for (const { name, addresses } of this.names) {
      for (const address of addresses) byAddress.set(address, [...(byAddress.get(address) ?? []), name]);
    }
    const names: DnsmasqName[] = [...byAddress].map(([address, n]) => ({ address, names: n }));
    await this.dnsmasq.writeHosts(
      this.leases.map((l) => ({ mac: l.mac, address: l.address })),
      names,
    );
  }
}
