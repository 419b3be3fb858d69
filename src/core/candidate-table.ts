/**
 * The cluster as placement reads it: one column per field (struct of arrays), so that visiting the 32
 * nodes after a random start reads a few cache lines of typed arrays rather than 32 scattered node
 * objects with their label maps and sets. On a 50,000-node cluster the objects no longer fit the CPU
 * caches and each visited node cost several cache misses; the columns keep the cost of a placement
 * nearly flat from 1,000 to 50,000 nodes (docs/benchmarks.md).
 *
 * Labels are interned per key (0 = unset); replica groups, host ports and images are indexed the
 * other way round (which nodes hold each), so a check is one set lookup. Pure data: the decisions
 * (filter, reasons, scores) live in core/placement.ts, which reads the table through the methods here.
 */
import type { Candidate, Constraint, PlacementRequest, Resources } from "./placement-types.js";

interface LabelColumn {
  ids: Map<string, number>;
  column: Int32Array;
}

/** A request resolved against the table once, so the visit reads only numbers. */
export interface CompiledRequest {
  req: PlacementRequest;
  /** 1 where the node offers the driver; undefined when no node does. */
  driver: Uint8Array | undefined;
  /** For a bridge-mode VM: 1 where the node offers bridge networking; null when any node will do. */
  network: Uint8Array | undefined | null;
  constraints: { column: Int32Array | undefined; value: number; equal: boolean; source: Constraint }[];
  /** Nodes already running a replica of the group. */
  group: ReadonlySet<number> | undefined;
  /** For each requested port, the nodes that forward it. */
  ports: { port: string; nodes: ReadonlySet<number> }[];
}

const READY = 1;
const SCHEDULABLE = 2;

export class CandidateTable {
  readonly size: number;
  readonly ids: readonly string[];
  private readonly index = new Map<string, number>();
  private readonly flags: Uint8Array;
  readonly vcpus: Float64Array;
  readonly memoryMiB: Float64Array;
  readonly usedVcpus: Float64Array;
  readonly usedMemoryMiB: Float64Array;
  private readonly drivers = new Map<string, Uint8Array>();
  private readonly networks = new Map<string, Uint8Array>();
  private readonly labels = new Map<string, LabelColumn>();
  private readonly labelValues: Readonly<Record<string, string>>[];
  private readonly groups = new Map<string, Set<number>>();
  private readonly ports = new Map<string, Set<number>>();
  private readonly images = new Map<string, Set<number>>();

  private constructor(nodes: readonly Candidate[]) {
    const n = nodes.length;
    this.size = n;
    this.ids = nodes.map((node) => node.id);
    this.flags = new Uint8Array(n);
    this.vcpus = new Float64Array(n);
    this.memoryMiB = new Float64Array(n);
    this.usedVcpus = new Float64Array(n);
    this.usedMemoryMiB = new Float64Array(n);
    this.labelValues = nodes.map((node) => node.labels);
    for (const [i, node] of nodes.entries()) {
      this.index.set(node.id, i);
      this.flags[i] = (node.ready ? READY : 0) | (node.schedulable ? SCHEDULABLE : 0);
      this.vcpus[i] = node.vcpus;
      this.memoryMiB[i] = node.memoryMiB;
      this.usedVcpus[i] = node.usedVcpus;
      this.usedMemoryMiB[i] = node.usedMemoryMiB;
      for (const driver of node.drivers) this.column(this.drivers, driver)[i] = 1;
      for (const network of node.networks) this.column(this.networks, network)[i] = 1;
      for (const [key, value] of Object.entries(node.labels)) {
        const label = this.labels.get(key) ?? { ids: new Map<string, number>(), column: new Int32Array(n) };
        this.labels.set(key, label);
        let id = label.ids.get(value);
        if (id === undefined) {
          id = label.ids.size + 1;
          label.ids.set(value, id);
        }
        label.column[i] = id;
      }
      for (const group of node.groups) addTo(this.groups, group, i);
      for (const port of node.ports) addTo(this.ports, port, i);
      for (const image of node.images) addTo(this.images, image, i);
    }
  }

  static from(nodes: readonly Candidate[]): CandidateTable {
    return new CandidateTable(nodes);
  }

  private column(map: Map<string, Uint8Array>, key: string): Uint8Array {
    let column = map.get(key);
    if (!column) {
      column = new Uint8Array(this.size);
      map.set(key, column);
    }
    return column;
  }

  indexOf(id: string): number | undefined {
    return this.index.get(id);
  }

  ready(i: number): boolean {
    return (this.flags[i]! & READY) !== 0;
  }

  schedulable(i: number): boolean {
    return (this.flags[i]! & SCHEDULABLE) !== 0;
  }

  label(i: number, key: string): string | undefined {
    return this.labelValues[i]![key];
  }

  holdsImage(i: number, image: string): boolean {
    return this.images.get(image)?.has(i) ?? false;
  }

  compile(req: PlacementRequest): CompiledRequest {
    return {
      req,
      driver: this.drivers.get(req.driver),
      network: req.network === undefined || req.network === "user" ? null : this.networks.get(req.network),
      constraints: req.constraints.map((c) => {
        const label = this.labels.get(c.key);
        return {
          column: label?.column,
          value: label?.ids.get(c.value) ?? -1,
          equal: c.op === "=",
          source: c,
        };
      }),
      group: req.group === undefined ? undefined : this.groups.get(req.group),
      ports: (req.ports ?? []).flatMap((port) => {
        const nodes = this.ports.get(port);
        return nodes ? [{ port, nodes }] : [];
      }),
    };
  }

  /** Counts a placed VM on node `i`: its resources, its forwarded ports and its replica group. */
  assign(i: number, resources: Resources, extra: { ports?: readonly string[]; group?: string } = {}): void {
    this.usedVcpus[i] = this.usedVcpus[i]! + resources.vcpus;
    this.usedMemoryMiB[i] = this.usedMemoryMiB[i]! + resources.memoryMiB;
    for (const port of extra.ports ?? []) addTo(this.ports, port, i);
    if (extra.group !== undefined) addTo(this.groups, extra.group, i);
  }
}

function addTo(map: Map<string, Set<number>>, key: string, i: number): void {
  let nodes = map.get(key);
  if (!nodes) {
    nodes = new Set<number>();
    map.set(key, nodes);
  }
  nodes.add(i);
}
