/**
 * Seeds that once exposed a bug, replayed on every simulator run and in the unit tests. Each entry says
 * what the bug was; the fix's commit describes it too.
 */
export interface RegressionSeed {
  seed: number;
  steps: number;
  nodes: number;
  bug: string;
}

export const REGRESSION_SEEDS: readonly RegressionSeed[] = [
  {
    seed: 18,
    steps: 200,
    nodes: 3,
    bug: "an agent deleted the status of another node's VM whose record changed, as a local orphan",
  },
  { seed: 23, steps: 200, nodes: 3, bug: "same bug: a stopped VM on another node lost its status" },
  { seed: 45, steps: 200, nodes: 3, bug: "same bug, seen with a partition in the run" },
  {
    seed: 85039015,
    steps: 200,
    nodes: 3,
    bug: "a status write that applied but lost its reply left the store at Stopping while the VM ran on",
  },
];
