import { describe, expect, it } from "vitest";
import { parseTtl } from "./ttl.js";

describe("token --ttl", () => {
  it("reads seconds, minutes, hours and days", () => {
    expect([parseTtl("90s"), parseTtl("30m"), parseTtl("12h"), parseTtl("7d")]).toEqual([
      90, 1800, 43200, 604800,
    ]);
  });

  it("refuses what is not a positive duration", () => {
    for (const bad of ["0s", "1", "1w", "-5m", "h", "367d"])
      expect(() => parseTtl(bad), bad).toThrow(/--ttl/);
  });
});
