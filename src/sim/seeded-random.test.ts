import { describe, expect, it } from "vitest";
import { SeededRandom } from "./seeded-random.js";

describe("SeededRandom", () => {
  it("repeats its sequence for the same seed and differs for another", () => {
    const draw = (seed: number) => {
      const r = new SeededRandom(seed);
      return Array.from({ length: 8 }, () => r.nextUint32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it("draws uniformly enough in [0, 1)", () => {
    const r = new SeededRandom(7);
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      buckets[Math.floor(x * 10)]++;
    }
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(600);
  });

  it("forks independent, reproducible streams", () => {
    const a = new SeededRandom(1).fork("driver");
    const b = new SeededRandom(1).fork("driver");
    const c = new SeededRandom(1).fork("store");
    expect(a.hex(8)).toBe(b.hex(8));
    expect(a.hex(8)).not.toBe(c.hex(8));
  });
});
