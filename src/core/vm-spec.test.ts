import { describe, expect, it } from "vitest";
import { BlixardError } from "./errors.js";
import { healthCheckHostPort, parseVmSpec } from "./vm-spec.js";

const minimal = { name: "web", kernel: "/images/vmlinuz" };

function violations(input: unknown): string[] {
  try {
    parseVmSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(BlixardError);
    expect((err as BlixardError).code).toBe("INVALID_ARGUMENT");
    return (err as BlixardError).violations.map((v) => v.field);
  }
  throw new Error("expected the spec to be rejected");
}

describe("VM spec", () => {
  it("fills defaults for a minimal spec", () => {
    const spec = parseVmSpec(minimal);
    expect(spec).toMatchObject({
      vcpus: 1,
      memory: 256,
      driver: "qemu",
      cmdline: "",
      forwards: [],
      restartPolicy: "always",
      restartBackoff: { initialSeconds: 1, maxSeconds: 60 },
    });
  });

  it.each([
    ["Web", "uppercase"],
    ["-web", "leading dash"],
    ["web-", "trailing dash"],
    ["a".repeat(64), "64 characters"],
    ["../etc", "path traversal"],
    ["we_b", "underscore"],
    ["", "empty"],
  ])("rejects the name %j (%s)", (name) => {
    expect(violations({ ...minimal, name })).toEqual(["spec.name"]);
  });

  it("accepts a 63-character DNS label", () => {
    expect(parseVmSpec({ ...minimal, name: `a${"-b".repeat(31)}` }).name).toHaveLength(63);
  });

  it.each([["relative/vmlinuz"], ["/images/../etc/shadow"], ["/images/./vmlinuz"]])(
    "rejects the kernel path %j",
    (kernel) => {
      expect(violations({ ...minimal, kernel })).toEqual(["spec.kernel"]);
    },
  );

  it("names every offending field at once", () => {
    expect(violations({ ...minimal, vcpus: 0, memory: 1, driver: "xen" }).sort()).toEqual([
      "spec.driver",
      "spec.memory",
      "spec.vcpus",
    ]);
  });

  it("rejects unknown fields so typos are not silently ignored", () => {
    expect(violations({ ...minimal, vcpu: 2 })).toEqual(["spec"]);
  });

  it("rejects a host port forwarded twice", () => {
    const forwards = [
      { host: 8080, guest: 80 },
      { host: 8080, guest: 81 },
    ];
    expect(violations({ ...minimal, forwards })).toEqual(["spec.forwards.1.host"]);
  });

  it("requires a tcp health check's port to be forwarded", () => {
    expect(violations({ ...minimal, healthCheck: { type: "tcp", port: 80 } })).toEqual([
      "spec.healthCheck.port",
    ]);
  });

  it("maps a health check's guest port to its forwarded host port", () => {
    const spec = parseVmSpec({
      ...minimal,
      forwards: [{ host: 18080, guest: 80 }],
      healthCheck: { type: "http", port: 80 },
    });
    expect(healthCheckHostPort(spec)).toBe(18080);
    expect(spec.healthCheck).toMatchObject({ path: "/", failureThreshold: 3 });
  });

  it("rejects an invalid console pattern", () => {
    expect(violations({ ...minimal, healthCheck: { type: "console", pattern: "(" } })).toEqual([
      "spec.healthCheck.pattern",
    ]);
  });

  it("rejects a multi-line cmdline", () => {
    expect(violations({ ...minimal, cmdline: "quiet\ninit=/bin/sh" })).toEqual(["spec.cmdline"]);
  });

  it("rejects a backoff whose max is below its initial delay", () => {
    expect(violations({ ...minimal, restartBackoff: { initialSeconds: 10, maxSeconds: 1 } })).toEqual([
      "spec.restartBackoff.maxSeconds",
    ]);
  });
});
