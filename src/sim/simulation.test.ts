import { describe, expect, it } from "vitest";
import { MemoryStore } from "../store/memory/memory-store.js";
import { REGRESSION_SEEDS } from "./regressions.js";
import { DEFAULT_CONFIG, runSimulation, type SimConfig } from "./world.js";

const run = (config: SimConfig) => runSimulation(config, (clock) => new MemoryStore({ clock }));

describe("deterministic simulation of the agent", () => {
  it("replays the same run from the same seed", async () => {
    const a = await run({ ...DEFAULT_CONFIG, seed: 7, steps: 120 });
    const b = await run({ ...DEFAULT_CONFIG, seed: 7, steps: 120 });
    expect(a.trace.length).toBeGreaterThan(20);
    expect(b.trace).toEqual(a.trace);
    const c = await run({ ...DEFAULT_CONFIG, seed: 8, steps: 120 });
    expect(c.trace).not.toEqual(a.trace);
  });

  it("replays every decision of the services too, line for line, from the same seed", async () => {
    const logs = async () => {
      const lines: string[] = [];
      await run({ ...DEFAULT_CONFIG, seed: 11, steps: 100, nodes: 4, verbose: (l) => lines.push(l) });
      return lines;
    };
    const [a, b] = [await logs(), await logs()];
    // The leader's placements and failovers, the agents' starts and stops, every node's fencing.
    expect(a.some((l) => l.includes("scheduled VM"))).toBe(true);
    expect(a.some((l) => l.includes("started VM"))).toBe(true);
    expect(b).toEqual(a);
  });

  it("keeps every invariant across 40 seeds of requests and faults", async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      const result = await run({ ...DEFAULT_CONFIG, seed });
      if (result.violations.length > 0) {
        failures.push(
          `seed ${seed}: ${result.violations.map((v) => `${v.invariant}: ${v.detail}`).join("; ")}`,
        );
      }
    }
    expect(failures, "reproduce with: npm run sim -- --seed <seed>").toEqual([]);
  });

  it.each(REGRESSION_SEEDS)("stays fixed on regression seed $seed: $bug", async ({ seed, steps, nodes }) => {
    const result = await run({ ...DEFAULT_CONFIG, seed, steps, nodes });
    expect(result.violations).toEqual([]);
  });

  it("exercises the faults it claims to inject", async () => {
    const traces = (
      await Promise.all([1, 2, 3, 4, 5].map((seed) => run({ ...DEFAULT_CONFIG, seed })))
    ).flatMap((r) => r.trace);
    for (const fault of [
      "crash VM",
      "agent killed",
      "host crashed",
      "partitioned from the store",
      "delete",
      "restart",
      "on n",
      "zone",
    ]) {
      expect(
        traces.some((line) => line.includes(fault)),
        fault,
      ).toBe(true);
    }
  });
});
