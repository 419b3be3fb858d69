/** Prometheus metrics for /metrics: VMs by phase, restarts, reconcile durations and time to ready. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { AgentMetrics } from "../agent/agent-metrics.js";
import { PHASES, type VmView } from "../core/vm-record.js";
import { listQuarantine, type QuarantinedDir } from "../drivers/shared/quarantine.js";
import type { GroupCommitStats } from "../store/group-commit/group-commit-store.js";

export interface NodeMetrics {
  registry: Registry;
  agent: AgentMetrics;
}

/**
 * `groupCommit`: the counts of an etcd-backed node's group commit (absent on SQLite). `quarantineDir`:
 * where this node keeps state dirs it did not delete, whose size an operator should watch.
 */
export function createMetrics(
  listVms: () => Promise<VmView[]>,
  groupCommit?: GroupCommitStats,
  quarantineDir?: string,
): NodeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "blixard_" });
  // prom-client's default totals are gauges named with a counter's `_total` suffix, which
  // `promtool check metrics` rejects (and rate() over them would be wrong). The per-type gauges of the
  // same name without the suffix stay: sum() over them gives the same totals.
  for (const gauge of ["handles", "requests", "resources"])
    registry.removeSingleMetric(`blixard_nodejs_active_${gauge}_total`);
  if (groupCommit) storeTransactions(registry, groupCommit);
  if (quarantineDir) quarantine(registry, quarantineDir);

  new Gauge({
    name: "blixard_vms",
    help: "VMs known to this node, by observed phase",
    labelNames: ["phase"],
    registers: [registry],
    async collect() {
      const counts = new Map<string, number>(PHASES.map((p) => [p, 0]));
      for (const vm of await listVms()) counts.set(vm.status.phase, (counts.get(vm.status.phase) ?? 0) + 1);
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  const restarts = new Counter({
    name: "blixard_vm_restarts_total",
    help: "Automatic VM restarts after a crash or failed health check",
    labelNames: ["vm"],
    registers: [registry],
  });
  const reconcile = new Histogram({
    name: "blixard_reconcile_duration_seconds",
    help: "Time of one reconcile pass for one VM",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30],
    registers: [registry],
  });
  const ready = new Histogram({
    name: "blixard_vm_time_to_ready_seconds",
    help: "Time from VM process start to ready (first passing health check, or start when it has none)",
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
    registers: [registry],
  });

  return {
    registry,
    agent: {
      reconcileSeconds: (s) => reconcile.observe(s),
      restarted: (vm) => restarts.inc({ vm }),
      ready: (_vm, s) => ready.observe(s),
    },
  };
}

/**
 * Store transactions asked for by this node's services, sent to etcd (merged or alone, retries
 * included), and merged ones split because a compare failed: requested/sent is the batching factor.
 */
function storeTransactions(registry: Registry, stats: GroupCommitStats): void {
  const counted: GroupCommitStats = { requested: 0, sent: 0, split: 0 };
  new Counter({
    name: "blixard_store_transactions_total",
    help: "Store transactions: requested by this node, sent to the store (group commit merges them), split after a failed compare",
    labelNames: ["stage"],
    registers: [registry],
    collect() {
      for (const stage of ["requested", "sent", "split"] as const) {
        this.inc({ stage }, stats[stage] - counted[stage]);
        counted[stage] = stats[stage];
      }
    },
  });
}

/** Quarantined state dirs are kept until deleted by hand: their count and disk use, read at scrape. */
function quarantine(registry: Registry, dir: string): void {
  let last: Promise<QuarantinedDir[]> | undefined;
  // One walk per scrape serves both gauges.
  const entries = () => {
    last ??= listQuarantine(dir).finally(() => setImmediate(() => (last = undefined)));
    return last;
  };
  new Gauge({
    name: "blixard_quarantined_state_dirs",
    help: "VM state dirs this node moved to quarantine instead of deleting (blixard node quarantine list)",
    registers: [registry],
    async collect() {
      this.set((await entries()).length);
    },
  });
  new Gauge({
    name: "blixard_quarantine_bytes",
    help: "Disk space used by quarantined VM state dirs",
    registers: [registry],
    async collect() {
      this.set((await entries()).reduce((sum, e) => sum + e.bytes, 0));
    },
  });
}
