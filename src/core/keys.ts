/** The store's key layout. Every key Blixard writes is built here, so the layout is visible in one place. */
const ROOT = "/blixard/v1";

export const keys = {
  vmsPrefix: `${ROOT}/vms/`,
  vm: (name: string) => `${ROOT}/vms/${name}`,
  statusPrefix: `${ROOT}/status/`,
  status: (name: string) => `${ROOT}/status/${name}`,
  placementsPrefix: `${ROOT}/placements/`,
  /** Where the controllers put a VM (core/vm-record.ts Placement); written by the leader only. */
  placement: (vm: string) => `${ROOT}/placements/${vm}`,
  assignmentsPrefix: `${ROOT}/assignments/`,
  /** Present once the store's inline placements have been moved to their own keys (a store upgrade). */
  placementsMoved: `${ROOT}/schema/placements-moved`,
  /** A node's assignments: the only VM keys its agent watches, so a write concerns one node. */
  nodeAssignmentsPrefix: (node: string) => `${ROOT}/assignments/${node}/`,
  /** A VM assigned to a node (core/vm-record.ts Assignment); written by the leader only. */
  assignment: (node: string, vm: string) => `${ROOT}/assignments/${node}/${vm}`,
  nodesPrefix: `${ROOT}/nodes/`,
  /** A node's registration: identity, address, labels and capacity. Outlives the node's lease. */
  node: (id: string) => `${ROOT}/nodes/${id}`,
  alivePrefix: `${ROOT}/alive/`,
  /** Bound to the node's lease: present while the node is Ready. */
  alive: (id: string) => `${ROOT}/alive/${id}`,
  cordonPrefix: `${ROOT}/cordon/`,
  /** Present while a node is cordoned (no new VMs); its value says whether it is being drained. */
  cordon: (id: string) => `${ROOT}/cordon/${id}`,
  /** Held by the elected leader, bound to its lease; its create revision is the fencing token. */
  leader: `${ROOT}/election/leader`,
  /** The cluster's network settings (core/cluster-network.ts): VM and service ranges, domain, VNI. */
  network: `${ROOT}/network`,
  addressesPrefix: `${ROOT}/addresses/`,
  /**
   * A cluster address, claimed by the VM, node bridge or service that holds it (IPAM): created in the
   * same transaction as its holder, so that no address is ever given twice.
   */
  addressClaim: (address: string) => `${ROOT}/addresses/${address}`,
  servicesPrefix: `${ROOT}/services/`,
  service: (name: string) => `${ROOT}/services/${name}`,
  /** A forwarded host port, claimed by the VM that forwards it, so that two VMs never share one. */
  portClaim: (protocol: string, port: number) => `${ROOT}/ports/${protocol}/${port}`,
  /** The cluster CA shared by nodes on an external etcd over TLS (certificate and key, PEM). */
  clusterCa: `${ROOT}/pki/ca`,
  joinTokensPrefix: `${ROOT}/join-tokens/`,
  /** A join token by id: a hash of its secret, never the secret itself. */
  joinToken: (id: string) => `${ROOT}/join-tokens/${id}`,
  tokensPrefix: `${ROOT}/tokens/`,
  /** An API token's record: name, role, expiry and the SHA-256 of its secret (core/tokens.ts). */
  token: (name: string) => `${ROOT}/tokens/${name}`,
  eventsPrefix: `${ROOT}/events/`,
  /** Events sort by the store revision that wrote them, zero-padded so lexical order is numeric order. */
  event: (seq: number) => `${ROOT}/events/${String(seq).padStart(16, "0")}`,
  volumesPrefix: `${ROOT}/volumes/`,
  /** A volume's record (core/volume.ts): its lifecycle and the VMs that claim it. */
  volume: (name: string) => `${ROOT}/volumes/${name}`,
} as const;

export function nameFromKey(prefix: string, key: string): string {
  return key.slice(prefix.length);
}

/** The keys a VM holds for its forwarded host ports; released when the VM is deleted. */
export function portClaimKeys(forwards: readonly { protocol: string; host: number }[]): string[] {
  return forwards.map((f) => keys.portClaim(f.protocol, f.host));
}
