/** Cluster membership as the store holds it: a persistent registration plus a leased liveness key. */
export interface NodeCapacity {
  vcpus: number;
  memoryMiB: number;
  drivers: string[];
  /** "user", and "bridge" once the node's overlay is up; absent in older records ("user" only). */
  networks?: string[];
  /** Free disk for local volumes under the data dir, in bytes; absent in older records (unchecked). */
  volumeBytes?: number;
}

/** What a node keeps back for its host and how far it overcommits the rest (`blixard node` flags). */
export interface NodeAllowance {
  reserved: { vcpus: number; memoryMiB: number };
  overcommit: { cpu: number; memory: number };
}

export const DEFAULT_ALLOWANCE: NodeAllowance = {
  reserved: { vcpus: 0, memoryMiB: 512 },
  overcommit: { cpu: 4, memory: 1 },
};

export interface NodeRecord {
  id: string;
  apiUrl: string;
  labels: Record<string, string>;
  capacity: NodeCapacity;
  /** Absent in records written before it existed: DEFAULT_ALLOWANCE then. */
  allowance?: NodeAllowance;
  /** When this node process last registered. */
  startedAt: string;
  /** How the node isolates its VMs (`--isolation`), and what its host lacks; absent in older records. */
  isolation?: string;
  /**
   * Where the node's overlay is: its VXLAN endpoint on the underlay (`vtep`, what peers send to) and
   * its bridge's cluster address (its guests' gateway and DNS). Absent without bridge networking.
   */
  overlay?: NodeOverlay;
  /** Ceph access for RBD volumes (`--ceph-conf`), as found when the node started; absent without Ceph. */
  ceph?: NodeCeph;
}

export interface NodeCeph {
  reachable: boolean;
  reason?: string;
  pool: string;
}

export interface NodeOverlay {
  vtep: string;
  bridgeAddress: string;
}

export type NodeState = "Ready" | "NotReady";

/** `blixard node cordon|drain`: kept apart from the record, which the node rewrites at every start. */
export interface Cordon {
  draining: boolean;
  at: string;
}

export interface NodeView extends NodeRecord {
  state: NodeState;
  /** No new VMs are placed on a cordoned node. */
  cordoned: boolean;
  /** Its VMs are being moved elsewhere. */
  draining: boolean;
}

/** A node is Ready exactly while its liveness key (bound to its lease) exists. */
export function nodeViews(
  records: Iterable<NodeRecord>,
  alive: { has(id: string): boolean },
  cordons: ReadonlyMap<string, Cordon> = new Map(),
): NodeView[] {
  return [...records]
    .map((r) => ({
      ...r,
      state: (alive.has(r.id) ? "Ready" : "NotReady") as NodeState,
      cordoned: cordons.has(r.id),
      draining: cordons.get(r.id)?.draining === true,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Parses `k=v` label flags; returns the labels or the first problem, naming the flag value. */
export function parseLabels(flags: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    const key = eq < 0 ? flag : flag.slice(0, eq);
    const value = eq < 0 ? "" : flag.slice(eq + 1);
    if (eq < 0 || !LABEL_KEY.test(key) || key.length > 63 || value.length > 253 || /[\s,]/.test(value)) {
      throw new Error(
        `--label "${flag}" must be KEY=VALUE, e.g. zone=eu-1 (keys: letters, digits, '-', '_', '.')`,
      );
    }
    labels[key] = value;
  }
  return labels;
}
