/** What the agent reports to metrics; the daemon backs it with prom-client, tests with a recorder. */
export interface AgentMetrics {
  reconcileSeconds(seconds: number): void;
  restarted(vm: string): void;
  ready(vm: string, secondsSinceStart: number): void;
}

export const noMetrics: AgentMetrics = {
  reconcileSeconds() {},
  restarted() {},
  ready() {},
};
