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
  {
    seed: 5116,
    steps: 200,
    nodes: 4,
    bug:
      "a node process restarting in a loop reset its watchdog's heartbeat each time, and a restarted " +
      "node ran VMs before registering: its VMs ran on while the leader moved them (two copies)",
  },
  {
    seed: 77829968,
    steps: 200,
    nodes: 6,
    bug: "a node back from a partition wrote a stale status over the new owner's, then withdrew it",
  },
  {
    seed: 6091,
    steps: 200,
    nodes: 4,
    bug: "a node back from a partition started a VM on an assignment it had lost (two copies)",
  },
  {
    seed: 1842731942,
    steps: 200,
    nodes: 5,
    bug: "a scheduler that reloaded after a broken watch never retried a Pending VM that now fitted",
  },
  {
    seed: 332706857,
    steps: 200,
    nodes: 5,
    bug: "a scheduling pass that failed half-way marked its Pending VMs tried, so they stayed Pending",
  },
  {
    seed: 1448,
    steps: 200,
    nodes: 6,
    bug:
      "the scheduler planned from a cache its own placements had not reached yet (the watch lags) " +
      "and filled a node twice over",
  },
  {
    seed: 21200,
    steps: 200,
    nodes: 3,
    bug:
      "an agent's withdrawal of its status applied but lost its reply; when the VM came back the " +
      "agent thought the status still there and never wrote it",
  },
  {
    seed: 41650,
    steps: 200,
    nodes: 3,
    bug:
      "a placement that lost a race with a user's restart of the VM failed its compare, and the " +
      "scheduler counted the VM tried: it stayed Pending",
  },
  {
    seed: 52708,
    steps: 200,
    nodes: 6,
    bug:
      "a leader whose cache had not seen a node come back moved the VM that node was starting: " +
      "two copies",
  },
  {
    seed: 62084,
    steps: 200,
    nodes: 7,
    bug:
      "a reload whose read predated the scheduler's own move dropped the move from its cache, and " +
      "the next pass filled the node the VM had moved to",
  },
];
