/**
 * The host side of bridge networking, as a port: the node's bridge and VXLAN device, its nftables
 * tables and its dnsmasq (src/net/ implements it with ip, bridge, nft and dnsmasq). The agent's
 * NodeNetwork decides what they hold from the store; this only makes the host match.
 */
export interface OverlayConfig {
  /** The bridge's cluster address and the VM range's prefix length (the guests' on-link range). */
  bridgeAddress: string;
  prefixLength: number;
  /** The VM range (masquerade and forward rules) and the DNS domain. */
  vmCidr: string;
  domain: string;
  /** This node's underlay address: its VXLAN endpoint. */
  vtep: string;
  vni: number;
}

export interface DhcpLease {
  mac: string;
  address: string;
  hostname: string;
}

export interface HostName {
  /** Fully qualified: web.vm.blixard.internal. */
  name: string;
  addresses: string[];
}

export interface HostNetwork {
  /** Creates the bridge, the VXLAN device and the tables, and starts dnsmasq. Idempotent. */
  up(config: OverlayConfig): Promise<void>;
  /** The other nodes' underlay addresses: VXLAN peers, and addresses guests must not reach. */
  setPeers(peers: readonly string[]): Promise<void>;
  /** The static DHCP leases of the VMs on this node. */
  setLeases(leases: readonly DhcpLease[]): Promise<void>;
  /** The names dnsmasq answers for guests. */
  setNames(names: readonly HostName[]): Promise<void>;
  /**
   * Stops dnsmasq; with `removeDevices` (no VM of the node is left running) also removes the bridge,
   * the VXLAN device, leftover taps and the tables.
   */
  down(options: { removeDevices: boolean }): Promise<void>;
}
