import { describe, expect, it } from "vitest";
import { type BlixardError, isBlixardError } from "./errors.js";
import { instanceName, parseInstanceName } from "./function-record.js";
import { envCmdline, parseFunctionSpec } from "./function-spec.js";

function violations(input: unknown): string[] {
  try {
    parseFunctionSpec(input);
  } catch (err) {
    if (!isBlixardError(err)) throw err;
    return ((err as BlixardError).violations ?? []).map((v) => v.field);
  }
  throw new Error("the spec was accepted");
}

describe("parseFunctionSpec", () => {
  it("defaults everything but the name", () => {
    expect(parseFunctionSpec({ name: "hello" })).toMatchObject({
      port: 80,
      memory: 256,
      vcpus: 1,
      minInstances: 0,
      maxInstances: 10,
      concurrency: 4,
      idleTimeout: 300,
      env: {},
    });
  });

  it("names each invalid field", () => {
    expect(violations({ name: "Hello" })).toEqual(["spec.name"]);
    expect(violations({ name: "h", concurrency: 0 })).toEqual(["spec.concurrency"]);
    expect(violations({ name: "h", minInstances: 3, maxInstances: 2 })).toEqual(["spec.maxInstances"]);
    expect(violations({ name: "h", port: 70000 })).toEqual(["spec.port"]);
    expect(violations({ name: "h", kernel: "rel/vmlinux" })).toEqual(["spec.kernel"]);
    expect(violations({ name: "h", replicas: 2 })).toEqual(["spec"]);
    expect(violations({ name: "x".repeat(41) })).toEqual(["spec.name"]);
  });

  it("refuses env values that would add kernel parameters (init=/bin/sh)", () => {
    expect(violations({ name: "h", env: { A: "1 init=/bin/sh" } })).toEqual(["spec.env.A"]);
    expect(violations({ name: "h", env: { A: 'x"' } })).toEqual(["spec.env.A"]);
    expect(violations({ name: "h", env: { "A B": "1" } })).toEqual(["spec.env.A B"]);
  });

  it("puts the environment on the command line as fn.env words, sorted", () => {
    expect(envCmdline({ B: "2", A: "x=y" })).toBe("fn.env.A=x=y fn.env.B=2");
  });
});

describe("instance names", () => {
  it("round-trip, and no other VM name parses as one", () => {
    expect(parseInstanceName(instanceName("my-fn", 12, 3))).toEqual({ fn: "my-fn", version: 12, index: 3 });
    expect(parseInstanceName("web-1")).toBeUndefined();
    expect(parseInstanceName("fn-x-0-1")).toBeUndefined();
    expect(instanceName("x".repeat(40), 999_999_999, 999).length).toBeLessThanOrEqual(63);
  });
});
