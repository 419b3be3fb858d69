/**
 * Shrinking a failing run: re-runs its seed with fewer steps, then with fewer nodes, and keeps the
 * smallest run that still violates the same invariant. A run with fewer steps replays the same
 * schedule up to where it stops (then heals), so a safety violation at step k fails again from k + 1
 * steps on; a convergence violation need not, so the search only ever keeps runs it saw fail. The
 * effort is bounded by `maxRuns`, and the result depends only on what the runner returns.
 */

export interface RunShape {
  seed: number;
  steps: number;
  nodes: number;
}

/** Runs the simulation in this shape and returns the names of the invariants it violated. */
export type ShrinkRunner = (run: RunShape) => Promise<readonly string[]>;

export interface ShrinkOptions {
  /** At most this many runs besides the failing one. */
  maxRuns: number;
  minNodes: number;
}

export interface ShrinkResult {
  /** The smallest run found that violates the invariant; the original if none smaller did. */
  run: RunShape;
  /** Runs spent. */
  runs: number;
}

export const SHRINK_DEFAULTS: ShrinkOptions = { maxRuns: 30, minNodes: 1 };

export async function shrink(
  failing: RunShape,
  invariant: string,
  runner: ShrinkRunner,
  options: ShrinkOptions = SHRINK_DEFAULTS,
): Promise<ShrinkResult> {
  let runs = 0;
  const fails = async (run: RunShape): Promise<boolean> => {
    if (runs >= options.maxRuns) return false;
    runs++;
    return (await runner(run)).includes(invariant);
  };
  /** Binary search for the fewest steps that fail, keeping only lengths seen to fail. */
  const fewerSteps = async (run: RunShape): Promise<RunShape> => {
    let lo = 1;
    let hi = run.steps;
    while (lo < hi && runs < options.maxRuns) {
      const mid = Math.floor((lo + hi) / 2);
      if (await fails({ ...run, steps: mid })) hi = mid;
      else lo = mid + 1;
    }
    return { ...run, steps: hi };
  };

  let best = await fewerSteps(failing);
  // Fewer nodes change the whole schedule, so each count is tried at the length found so far,
  // smallest first, and the first that still fails is shortened again.
  for (let nodes = options.minNodes; nodes < best.nodes && runs < options.maxRuns; nodes++) {
    if (await fails({ ...best, nodes })) {
      best = await fewerSteps({ ...best, nodes });
      break;
    }
  }
  return { run: best, runs };
}
