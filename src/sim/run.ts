/**
 * `npm run sim -- [--seed N] [--seeds K] [--steps M] [--nodes N] [--faults key=value,...] [--plant-bug I] [--verbose]`:
 * runs the production agent under the deterministic simulator. Prints every fault setting first,
 * replays the regression seeds, then runs K seeds from N (random without --seed), with 3 to 7 nodes
 * unless --nodes is given. Each run's trace hash is printed; on a violation it prints the trace and the
 * command that reproduces it, shrinks the run to the fewest steps and nodes that still violate the same
 * invariant, prints that command too, and exits 1. Bad arguments exit 2. `--plant-bug <invariant>`
 * plants the bug that invariant must catch (planted-bugs.ts), to check the simulator itself; the
 * regression seeds are then skipped.
 */
import { createHash, randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { MemoryStore } from "../store/memory/memory-store.js";
import { describeFaults, FaultFlagError, parseFaults } from "./fault-flags.js";
import { INVARIANTS, type InvariantName } from "./invariants.js";
import { PLANTED_BUGS } from "./planted-bugs.js";
import { REGRESSION_SEEDS } from "./regressions.js";
import { type RunShape, SHRINK_DEFAULTS, shrink } from "./shrink.js";
import { DEFAULT_CONFIG, runSimulation, type SimConfig } from "./world.js";

function usage(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        seed: { type: "string" },
        seeds: { type: "string", default: "1" },
        steps: { type: "string", default: String(DEFAULT_CONFIG.steps) },
        nodes: { type: "string" },
        faults: { type: "string", multiple: true, default: [] },
        "plant-bug": { type: "string" },
        verbose: { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    return usage((err as Error).message);
  }
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive whole number (got "${value}")`);
  return n;
}

function faultsFrom(specs: readonly string[]): Omit<SimConfig, "seed"> {
  let config = { ...DEFAULT_CONFIG };
  try {
    for (const spec of specs) config = { ...config, ...parseFaults(spec, config) };
  } catch (err) {
    if (err instanceof FaultFlagError) usage(err.message);
    throw err;
  }
  return config;
}

const values = parse();
const first = values.seed === undefined ? randomInt(1, 2 ** 31) : positive("seed", values.seed);
const seeds = positive("seeds", values.seeds);
const steps = positive("steps", values.steps);
const fixedNodes = values.nodes === undefined ? undefined : positive("nodes", values.nodes);
const bug = values["plant-bug"] as InvariantName | undefined;
if (bug !== undefined && !INVARIANTS.includes(bug))
  usage(`--plant-bug must name an invariant: ${INVARIANTS.join(", ")} (got "${bug}")`);
/** The --faults given, normalised, to repeat in every command this prints. */
const faultsFlag = values.faults
  .flatMap((spec) => spec.split(","))
  .map((t) => t.replace(/\s+/g, ""))
  .filter((t) => t !== "")
  .join(",");
const config: Omit<SimConfig, "seed"> = {
  ...faultsFrom(values.faults),
  steps,
  plantedBug: bug,
  ...(values.verbose ? { verbose: (line: string) => console.log(line) } : {}),
};
/** A 3–7 node mix by default, derived from the seed so that a seed alone reproduces its run. */
const nodesFor = (seed: number) => fixedNodes ?? 3 + (seed % 5);
const command = (run: RunShape) =>
  `npm run sim -- --seed ${run.seed} --steps ${run.steps} --nodes ${run.nodes}` +
  (faultsFlag ? ` --faults ${faultsFlag}` : "") +
  (bug ? ` --plant-bug ${bug}` : "");
const simulate = (run: RunShape, quiet = false) =>
  runSimulation(
    { ...config, ...run, ...(quiet ? { verbose: undefined } : {}) },
    (clock) => new MemoryStore({ clock }),
  );

/** With a planted bug every regression seed would fail first: only the seeds asked for run. */
const regressions = bug ? [] : REGRESSION_SEEDS;
console.log(
  `simulation: seeds ${first}..${first + seeds - 1}, ${steps} steps, ${fixedNodes ?? "3-7"} nodes, plus ${regressions.length} regression seeds`,
);
const settings = describeFaults(config);
const group = (prefix: string) => settings.filter((s) => s.split("=")[0]!.startsWith(prefix)).join(" ");
console.log(`  store faults:  ${group("store.")}`);
console.log(`  driver faults: ${group("driver.")}`);
console.log(`  per step:      ${settings.filter((s) => !s.split("=")[0]!.includes(".")).join(" ")}`);
if (bug) console.log(`  planted bug:   ${PLANTED_BUGS[bug].what} (must break ${bug})`);

const started = Date.now();
let virtual = 0;
let clusterSeconds = 0;
const runs: RunShape[] = [
  ...regressions.map((r) => ({ seed: r.seed, steps: r.steps, nodes: r.nodes })),
  ...Array.from({ length: seeds }, (_, i) => ({ seed: first + i, steps, nodes: nodesFor(first + i) })),
];
for (const run of runs) {
  const result = await simulate(run);
  virtual += result.virtualSeconds * run.nodes;
  clusterSeconds += result.virtualSeconds;
  const hash = createHash("sha256").update(result.trace.join("\n")).digest("hex").slice(0, 16);
  if (result.violations.length > 0) {
    console.log(result.trace.join("\n"));
    for (const v of result.violations) console.log(`VIOLATION ${v.invariant}: ${v.detail}`);
    console.log(`trace ${hash}; reproduce: ${command(run)}`);
    await shrinkAndReport(run, result.violations[0]!.invariant, result.trace.length);
    process.exit(1);
  }
  console.log(`seed ${run.seed} (${run.nodes} nodes): ok, trace ${hash}`);
}
const wallMinutes = (Date.now() - started) / 60_000;
console.log(
  `simulation: ${runs.length} runs passed; ${(clusterSeconds / 60).toFixed(0)} simulated cluster-minutes ` +
    `(${(virtual / 60).toFixed(0)} node-minutes) in ${(wallMinutes * 60).toFixed(1)} s: ` +
    `${(runs.length / wallMinutes).toFixed(0)} seeds, ${(clusterSeconds / 60 / wallMinutes).toFixed(0)} cluster-minutes ` +
    `and ${(virtual / 60 / wallMinutes).toFixed(0)} node-minutes per wall minute`,
);

async function shrinkAndReport(run: RunShape, invariant: InvariantName, traceLines: number): Promise<void> {
  console.log(
    `shrinking: the same seed with fewer steps and nodes (at most ${SHRINK_DEFAULTS.maxRuns} runs)`,
  );
  const shrunk = await shrink(run, invariant, async (candidate) =>
    (await simulate(candidate, true)).violations.map((v) => v.invariant),
  );
  if (shrunk.run.steps === run.steps && shrunk.run.nodes === run.nodes) {
    console.log(`shrunk to: nothing smaller violates ${invariant} (${shrunk.runs} runs tried)`);
    return;
  }
  const result = await simulate(shrunk.run, true);
  for (const v of result.violations) console.log(`  ${v.invariant}: ${v.detail}`);
  console.log(
    `shrunk to: ${command(shrunk.run)}  (trace of ${result.trace.length} lines, was ` +
      `${traceLines}; violates ${invariant}; ${shrunk.runs} runs tried)`,
  );
}
