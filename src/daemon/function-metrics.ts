/**
 * Prometheus metrics of functions on /metrics: invocations through this node's gateway by function
 * and status, requests that waited for an instance (cold starts; every one a full boot until
 * snapshots exist, so `kind` is "boot"), request latency, and the cluster's instances by state (read
 * from the store at scrape time).
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { GatewayResult } from "../agent/functions/function-gateway.js";
import type { Store } from "../ports/store.js";
import { readFunctionState } from "../state/function-state.js";

export function registerFunctionMetrics(
  registry: Registry,
  store: Store,
): { observe: (r: GatewayResult) => void } {
  const invocations = new Counter({
    name: "blixard_function_invocations_total",
    help: "Requests through this node's function gateway, by function and HTTP status",
    labelNames: ["function", "status"],
    registers: [registry],
  });
  const coldStarts = new Counter({
    name: "blixard_function_cold_starts_total",
    help: "Requests that waited for an instance to become ready, by how it started (boot or snapshot)",
    labelNames: ["function", "kind"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "blixard_function_request_seconds",
    help: "Time from a request's arrival at the gateway to the end of its answer, by whether it waited for a cold start",
    labelNames: ["function", "cold"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  new Gauge({
    name: "blixard_function_instances",
    help: "Instances of each function in the cluster, by state (starting, ready, failed, deleting)",
    labelNames: ["function", "state"],
    registers: [registry],
    async collect() {
      this.reset();
      const state = await readFunctionState(store);
      for (const [fn, list] of state.instances) {
        for (const i of list) this.inc({ function: fn, state: i.state });
      }
    },
  });
  return {
    observe: (r) => {
      invocations.inc({ function: r.fn, status: String(r.status) });
      if (r.held && r.status < 500) coldStarts.inc({ function: r.fn, kind: "boot" });
      latency.observe({ function: r.fn, cold: String(r.held) }, r.seconds);
    },
  };
}
