import { describe, expect, it } from "vitest";
import { MemoryStore } from "../store/memory/memory-store.js";
import { DEFAULT_CONFIG, runSimulation, type SimConfig, type SimResult } from "./world.js";

const run = (config: SimConfig) => runSimulation(config, (clock) => new MemoryStore({ clock }));

// `vm update --memory` through the production repository, among the simulator's requests and faults.
describe("simulation with spec updates", () => {
  const SEEDS = 20;
  let results: SimResult[] | undefined;
  const resized = async () => {
    if (!results) {
      // One at a time: the runs share the event loop, and each run's determinism relies on it.
      results = [];
      for (let seed = 1; seed <= SEEDS; seed++)
        results.push(await run({ ...DEFAULT_CONFIG, seed, resize: 0.3 }));
    }
    return results;
  };
  const failures = (all: SimResult[], keep: (invariant: string) => boolean) =>
    all.flatMap((r) =>
      r.violations.filter((v) => keep(v.invariant)).map((v) => `seed ${r.seed}: ${v.invariant}: ${v.detail}`),
    );

  it("keeps every invariant but capacity across 20 seeds of VMs resized while they run and move", async () => {
    const all = await resized();
    expect(
      failures(all, (inv) => inv !== "capacity"),
      "reproduce with runSimulation({ seed, resize: 0.3 })",
    ).toEqual([]);
    const trace = all.flatMap((r) => r.trace);
    // Both sides ran: updates applied, and growth refused on a full node.
    expect(trace.filter((l) => / resize \S+ to \d+ MiB$/.test(l)).length).toBeGreaterThan(20);
    expect(trace.some((l) => l.includes("does not fit node"))).toBe(true);
  }, 60_000);

  // KNOWN RACE, found by this test: a VM that grows while the leader's scheduler places another VM on
  // its node can overcommit the node (seed 10: the scheduler's pass used a load from before the grow,
  // and its placement transaction conditions only on the placed VM). Fixed when the placement
  // transaction also conditions on the records of the VMs on the target node. Turn into `it` then.
  it.fails("keeps the capacity invariant with resizes (fails until placement conditions on the node's VMs)", async () => {
    expect(failures(await resized(), (inv) => inv === "capacity")).toEqual([]);
  }, 60_000);

  it("leaves a seed's schedule as it was when resizing is off", async () => {
    const a = await run({ ...DEFAULT_CONFIG, seed: 3, steps: 80 });
    const b = await run({ ...DEFAULT_CONFIG, seed: 3, steps: 80, resize: 0 });
    expect(b.trace).toEqual(a.trace);
  });
});
