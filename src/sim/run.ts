/**
 * `npm run sim -- [--seed N] [--seeds K] [--steps M] [--nodes N]`: runs the production agent under the
 * deterministic simulator. Prints every fault setting first; on a violation prints the trace and the
 * command that reproduces it, and exits 1. Without --seed the first seed is random.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { MemoryStore } from "./memory-store.js";
import { DEFAULT_CONFIG, runSimulation } from "./world.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string", default: "1" },
    steps: { type: "string", default: String(DEFAULT_CONFIG.steps) },
    nodes: { type: "string", default: String(DEFAULT_CONFIG.nodes) },
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
const config = {
  ...DEFAULT_CONFIG,
  steps: positive("steps", values.steps),
  nodes: positive("nodes", values.nodes),
};

console.log(`simulation: seeds ${first}..${first + seeds - 1}, ${config.steps} steps, ${config.nodes} nodes`);
console.log(`  store faults:  ${JSON.stringify(config.storeFaults)}`);
console.log(`  driver faults: ${JSON.stringify(config.driverFaults)}`);
console.log(
  `  per step: crash VM ${config.crashVm}, restart agent ${config.restartAgent}, crash host ${config.crashHost}, partition ${config.partition}`,
);

const started = Date.now();
let virtual = 0;
for (let seed = first; seed < first + seeds; seed++) {
  const result = await runSimulation({ ...config, seed }, (clock) => new MemoryStore({ clock }));
  virtual += result.virtualSeconds;
  if (result.violations.length > 0) {
    console.log(result.trace.join("\n"));
    for (const v of result.violations) console.log(`VIOLATION ${v.invariant}: ${v.detail}`);
    console.log(`reproduce: npm run sim -- --seed ${seed} --steps ${config.steps} --nodes ${config.nodes}`);
    process.exit(1);
  }
}
console.log(
  `simulation: ${seeds} seeds passed, ${virtual.toFixed(0)} virtual seconds in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
