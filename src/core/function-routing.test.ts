import { describe, expect, it } from "vitest";
import { pickInstance, routeOf } from "./function-routing.js";

describe("routeOf", () => {
  it("routes /fn/NAME/... with the rest of the path, and /fn/NAME to /", () => {
    expect(routeOf("/fn/hello/a/b?x=1", undefined, undefined)).toEqual({ fn: "hello", path: "/a/b?x=1" });
    expect(routeOf("/fn/hello", undefined, undefined)).toEqual({ fn: "hello", path: "/" });
    expect(routeOf("/fn/hello?x=1", undefined, undefined)).toEqual({ fn: "hello", path: "/?x=1" });
  });

  it("routes by Host NAME.<domain>, with or without a port", () => {
    expect(routeOf("/x", "hello.fn.example:7080", "fn.example")).toEqual({ fn: "hello", path: "/x" });
    expect(routeOf("/x", "HELLO.fn.example.", "fn.example")).toEqual({ fn: "hello", path: "/x" });
  });

  it("names no function for other paths, nested hosts or names that are not DNS labels (../ in the name)", () => {
    expect(routeOf("/healthz", "127.0.0.1:7080", "fn.example")).toBeUndefined();
    expect(routeOf("/x", "a.b.fn.example", "fn.example")).toBeUndefined();
    expect(routeOf("/fn/..%2F..%2Fetc/x", undefined, undefined)).toBeUndefined();
    expect(routeOf("/fn/Hello/x", undefined, undefined)).toBeUndefined();
    expect(routeOf("/x", "evil.example", "fn.example")).toBeUndefined();
  });
});

describe("pickInstance", () => {
  const ready = [
    { name: "fn-h-1-0", index: 0, node: "b" },
    { name: "fn-h-1-1", index: 1, node: "a" },
    { name: "fn-h-1-2", index: 2, node: "a" },
  ];
  const load = (m: Record<string, number>) => (n: string) => m[n] ?? 0;
  const opts = { localNode: "a", concurrency: 2, canGrow: true };

  it("takes the least loaded, then a local one, then the lowest index", () => {
    expect(pickInstance(ready, load({ "fn-h-1-1": 1 }), opts)?.name).toBe("fn-h-1-2");
    expect(pickInstance(ready, load({}), opts)?.name).toBe("fn-h-1-1");
    expect(pickInstance(ready, load({ "fn-h-1-1": 1, "fn-h-1-2": 1 }), opts)?.name).toBe("fn-h-1-0");
  });

  it("holds the request when every instance is at concurrency and the pool may grow, else sends it anyway", () => {
    const full = load({ "fn-h-1-0": 2, "fn-h-1-1": 2, "fn-h-1-2": 2 });
    expect(pickInstance(ready, full, opts)).toBeUndefined();
    expect(pickInstance(ready, full, { ...opts, canGrow: false })?.name).toBe("fn-h-1-1");
    expect(pickInstance([], load({}), opts)).toBeUndefined();
  });
});
