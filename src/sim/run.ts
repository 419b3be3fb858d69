/**
 * `npm run sim -- [--seed N] [--seeds K] [--steps M] [--nodes N]`: runs the production agent under the
 * deterministic simulator. Prints every fault setting first, replays the regression seeds, then runs
 * K seeds from N (random without --seed), with 3 to 7 nodes unless --nodes is given. Each run's trace
 * hash is printed; on a violation it prints the trace and the command that reproduces it, and exits 1.
 */
import { createHash, randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { MemoryStore } from "./memory-store.js";
import { REGRESSION_SEEDS } from "./regressions.js";
import { DEFAULT_CONFIG, runSimulation } from "./world.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string", default: "1" },
    steps: { type: "string", default: String(DEFAULT_CONFIG.steps) },
    nodes: { type: "string" },
  },
});

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`error: --${name} must be a positive whole number (got "${value}")`);
    process.exit(2);
  }
  return n;
}

const first = values.seed === undefined ? randomInt(1, 2 ** 31) : positive("seed", values.seed);
const seeds = positive("seeds", values.seeds);
const steps = positive("steps", values.steps);
const fixedNodes = values.nodes === undefined ? undefined : positive("nodes", values.nodes);
/** A 3–7 node mix by default, derived from the seed so that a seed alone reproduces its run. */
const nodesFor = (seed: number) => fixedNodes ?? 3 + (seed % 5);
const config = { ...DEFAULT_CONFIG, steps };

console.log(
  `simulation: seeds ${first}..${first + seeds - 1}, ${steps} steps, ${fixedNodes ?? "3-7"} nodes, plus ${REGRESSION_SEEDS.length} regression seeds`,
);
console.log(`  store faults:  ${JSON.stringify(config.storeFaults)}`);
console.log(`  driver faults: ${JSON.stringify(config.driverFaults)}`);
console.log(
  `  per step: crash VM ${config.crashVm}, restart agent ${config.restartAgent}, crash host ${config.crashHost}, partition ${config.partition}`,
);

const started = Date.now();
let virtual = 0;
const runs = [
  ...REGRESSION_SEEDS.map((r) => ({ seed: r.seed, steps: r.steps, nodes: r.nodes })),
  ...Array.from({ length: seeds }, (_, i) => ({ seed: first + i, steps, nodes: nodesFor(first + i) })),
];
for (const run of runs) {
  const result = await runSimulation({ ...config, ...run }, (clock) => new MemoryStore({ clock }));
  virtual += result.virtualSeconds * run.nodes;
  const hash = createHash("sha256").update(result.trace.join("\n")).digest("hex").slice(0, 16);
  if (result.violations.length > 0) {
    console.log(result.trace.join("\n"));
    for (const v of result.violations) console.log(`VIOLATION ${v.invariant}: ${v.detail}`);
    console.log(
      `trace ${hash}; reproduce: npm run sim -- --seed ${run.seed} --steps ${run.steps} --nodes ${run.nodes}`,
    );
    process.exit(1);
  }
  console.log(`seed ${run.seed} (${run.nodes} nodes): ok, trace ${hash}`);
}
const wallMinutes = (Date.now() - started) / 60_000;
console.log(
  `simulation: ${runs.length} runs passed; ${(virtual / 60).toFixed(0)} simulated node-minutes in ${(wallMinutes * 60).toFixed(1)} s ` +
    `(${(virtual / 60 / wallMinutes).toFixed(0)} node-minutes per wall minute)`,
);
