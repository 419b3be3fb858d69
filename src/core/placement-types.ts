/** What placement works on: strategies, requests and the nodes as placement sees them. */

export const STRATEGIES = ["binpack", "spread", "locality"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface Resources {
  vcpus: number;
  memoryMiB: number;
}

export interface Constraint {
  key: string;
  op: "=" | "!=";
  value: string;
}

/** A node as placement sees it. */
export interface Candidate {
  id: string;
  labels: Readonly<Record<string, string>>;
  drivers: readonly string[];
  /** Network modes the node offers: "user" always, "bridge" when its overlay is up. */
  networks: readonly string[];
  ready: boolean;
  /** False while the node is cordoned or draining. */
  schedulable: boolean;
  /**
   * What VMs may use — (capacity − reservation) × overcommit — and what the VMs assigned to the node
   * ask for.
   */
  vcpus: number;
  memoryMiB: number;
  usedVcpus: number;
  usedMemoryMiB: number;
  /** Replica groups with a member on this node. */
  groups: ReadonlySet<string>;
  /** Host ports forwarded by the node's VMs, as "tcp/8080". */
  ports: ReadonlySet<string>;
  /** Images (kernel, initrd, disk paths) the node already holds, for the locality strategy. */
  images: ReadonlySet<string>;
}

export interface PlacementRequest {
  vm: string;
  resources: Resources;
  driver: string;
  /** The VM's network mode; a node must offer it ("user" everywhere). */
  network?: string;
  constraints: readonly Constraint[];
  strategy: Strategy;
  /** Manual placement: only this node is considered. */
  node?: string;
  /** The VM's local volume and the node holding it: only that node is considered. */
  volumeNode?: { volume: string; node: string };
  /** The VM's replica group: no two members on one node. */
  group?: string;
  ports?: readonly string[];
  images?: readonly string[];
}
