import { describe, expect, it } from "vitest";
import { RetryBackoff } from "./retry-backoff.js";

describe("RetryBackoff", () => {
  it("doubles the wait per consecutive failure up to the cap, and starts over after a success", () => {
    const backoff = new RetryBackoff({ initialSeconds: 1, maxSeconds: 8 });
    expect([1, 2, 3, 4, 5].map((i) => backoff.failed(i))).toEqual([1000, 2000, 4000, 8000, 8000]);
    backoff.succeeded();
    expect(backoff.failed(6)).toBe(1000);
  });

  it("retries the first failure at once when asked, then backs off", () => {
    const backoff = new RetryBackoff({ initialSeconds: 0.5, maxSeconds: 30, firstAtOnce: true });
    expect([0, 0, 0, 0].map((t) => backoff.failed(t))).toEqual([0, 500, 1000, 2000]);
  });

  it("starts a new series for a failure long after the last one", () => {
    const backoff = new RetryBackoff({ initialSeconds: 1, maxSeconds: 4 });
    backoff.failed(0);
    backoff.failed(0);
    expect(backoff.failed(0)).toBe(4000);
    expect(backoff.failed(60_000)).toBe(1000);
  });
});
