import { describe, expect, it } from "vitest";
import { type RunShape, shrink } from "./shrink.js";

/** A fake simulation that violates `single-copy` from step 37 on, on 2 or more nodes; records its calls. */
function fakeRunner(failsFrom = 37, minNodes = 2) {
  const calls: RunShape[] = [];
  const runner = async (run: RunShape) => {
    calls.push(run);
    return run.steps >= failsFrom && run.nodes >= minNodes ? ["single-copy"] : [];
  };
  return { runner, calls };
}

describe("shrinking a failing run", () => {
  it("finds the fewest steps and nodes that still fail", async () => {
    const { runner, calls } = fakeRunner();
    const result = await shrink({ seed: 9, steps: 200, nodes: 5 }, "single-copy", runner);
    expect(result.run).toEqual({ seed: 9, steps: 37, nodes: 2 });
    expect(result.runs).toBe(calls.length);
    expect(result.runs).toBeLessThanOrEqual(30);
    expect(calls.every((c) => c.seed === 9)).toBe(true);
  });

  it("keeps only runs that violate the same invariant", async () => {
    // Shorter runs fail too, but on another invariant: they do not count.
    const runner = async (run: RunShape) =>
      run.steps >= 120 ? ["fencing"] : run.steps >= 10 ? ["status-matches"] : [];
    const result = await shrink({ seed: 1, steps: 200, nodes: 1 }, "fencing", runner);
    expect(result.run).toEqual({ seed: 1, steps: 120, nodes: 1 });
  });

  it("stays within its budget and only ever returns a run seen to fail", async () => {
    const { runner, calls } = fakeRunner(1_234, 3);
    const result = await shrink({ seed: 4, steps: 100_000, nodes: 7 }, "single-copy", runner, {
      maxRuns: 5,
      minNodes: 1,
    });
    expect(calls).toHaveLength(5);
    expect(result.runs).toBe(5);
    expect(result.run.steps).toBeGreaterThanOrEqual(1_234);
    expect(result.run.steps).toBeLessThan(100_000);
    expect(result.run.nodes).toBe(7);
  });

  it("returns the original run when nothing smaller fails", async () => {
    const { runner } = fakeRunner(200, 5);
    const result = await shrink({ seed: 3, steps: 200, nodes: 5 }, "single-copy", runner);
    expect(result.run).toEqual({ seed: 3, steps: 200, nodes: 5 });
  });

  it("is deterministic: the same runner gives the same search", async () => {
    const a = fakeRunner();
    const b = fakeRunner();
    await shrink({ seed: 2, steps: 300, nodes: 6 }, "single-copy", a.runner);
    await shrink({ seed: 2, steps: 300, nodes: 6 }, "single-copy", b.runner);
    expect(b.calls).toEqual(a.calls);
  });
});
