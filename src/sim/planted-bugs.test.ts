import { describe, expect, it } from "vitest";
import { MemoryStore } from "../store/memory/memory-store.js";
import { INVARIANTS, type InvariantName } from "./invariants.js";
import { PLANTED_BUGS } from "./planted-bugs.js";
import { shrink } from "./shrink.js";
import { DEFAULT_CONFIG, runSimulation } from "./world.js";

/**
 * For each planted bug, two seeds whose schedules give it its chance (found by running seeds 1–40;
 * desired-running-runs needs a crashed VM still desired running at the end, timely-failover a host
 * down for longer than TTL + grace). A bug may break more than its own invariant: a leaked process of
 * a VM that moved runs next to the new copy (single-copy too), a stray copy on another host takes its
 * room (capacity too). The run keeps going after the first violation so that every one is reported.
 */
const SEEDS: Readonly<Record<InvariantName, readonly number[]>> = {
  "single-copy": [1, 2],
  "deletion-completes": [1, 2],
  "desired-running-runs": [5, 6],
  "status-matches": [1, 2],
  "desired-stopped-stops": [1, 2],
  "no-orphan-status": [1, 2],
  "no-lost-vm": [1, 3],
  fencing: [1, 2],
  capacity: [1, 2],
  "placement-converges": [1, 2],
  "timely-failover": [12, 13],
};

async function violated(
  seed: number,
  plantedBug?: InvariantName,
  steps = DEFAULT_CONFIG.steps,
  nodes = 3,
  keepGoing = true,
) {
  const config = { ...DEFAULT_CONFIG, seed, steps, nodes, plantedBug, keepGoing };
  const result = await runSimulation(config, (clock) => new MemoryStore({ clock }));
  return [...new Set(result.violations.map((v) => v.invariant))];
}

describe("planted bugs: every invariant can fail", () => {
  const seeds = [...new Set(Object.values(SEEDS).flat())].sort((a, b) => a - b);
  it.each(seeds)("seed %i keeps every invariant without a planted bug", async (seed) => {
    expect(await violated(seed)).toEqual([]);
  });

  it("plants one bug per invariant", () => {
    expect(Object.keys(PLANTED_BUGS).sort()).toEqual([...INVARIANTS].sort());
  });

  it.each(INVARIANTS)("catches the planted %s bug as that invariant", async (invariant) => {
    for (const seed of SEEDS[invariant]) {
      expect(await violated(seed, invariant), `seed ${seed}: ${PLANTED_BUGS[invariant].what}`).toContain(
        invariant,
      );
    }
  });

  it("shrinks a planted failure to the first step that shows it", async () => {
    const runner = (run: { seed: number; steps: number; nodes: number }) =>
      violated(run.seed, "single-copy", run.steps, run.nodes, false);
    const { run } = await shrink({ seed: 13, steps: 200, nodes: 5 }, "single-copy", runner);
    expect(run.nodes).toBe(2); // one node has nowhere to put a second copy
    expect(run.steps).toBeLessThan(200);
    // The stray copy is found running off its node too (fencing) when it shows only at the end.
    expect(await runner(run)).toContain("single-copy");
    // A shorter run replays a prefix of the schedule, so one step less does not show it.
    expect(await runner({ ...run, steps: run.steps - 1 })).not.toContain("single-copy");
  });
});
