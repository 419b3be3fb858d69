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

  // Found by this test: a VM that grows while the leader's scheduler places another VM on its node
  // could overcommit the node (seed 10). The leader now copies a grown record to the node only when
  // its own count, which holds the grow at once, has room (control/scheduler.ts, copy).
  it("keeps the capacity invariant with resizes", async () => {
    expect(failures(await resized(), (inv) => inv === "capacity")).toEqual([]);
  }, 60_000);

  it("leaves a seed's schedule as it was when resizing is off", async () => {
    const a = await run({ ...DEFAULT_CONFIG, seed: 3, steps: 80 });
    const b = await run({ ...DEFAULT_CONFIG, seed: 3, steps: 80, resize: 0 });
    expect(b.trace).toEqual(a.trace);
  });
});
