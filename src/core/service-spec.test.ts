import { describe, expect, it } from "vitest";
import { isBlixardError } from "./errors.js";
import { parseServiceSpec } from "./service-spec.js";

function violationsOf(input: unknown): { field: string; message: string }[] {
  try {
    parseServiceSpec(input);
  } catch (err) {
    if (isBlixardError(err, "INVALID_ARGUMENT")) return [...err.violations];
    throw err;
  }
  throw new Error("parsed");
}

describe("parseServiceSpec", () => {
  it("accepts a service and defaults the protocol to tcp", () => {
    expect(parseServiceSpec({ name: "web", port: 80, targetPort: 8080, group: "web" })).toEqual({
      name: "web",
      port: 80,
      targetPort: 8080,
      group: "web",
      protocol: "tcp",
    });
  });

  it("names the field and the fix for a host port below 1024 (shadowing sshd on every node)", () => {
    const v = violationsOf({ name: "web", port: 80, targetPort: 80, group: "web", hostPort: 22 });
    expect(v).toEqual([{ field: "spec.hostPort", message: expect.stringContaining("at least 1024") }]);
  });

  it("refuses names that are not DNS labels (they become nft comments and DNS names)", () => {
    const v = violationsOf({ name: 'x"; flush ruleset', port: 80, targetPort: 80, group: "../etc" });
    expect(v.map((x) => x.field).sort()).toEqual(["spec.group", "spec.name"]);
  });

  it("refuses unknown fields, ports out of range and protocols other than tcp", () => {
    const v = violationsOf({ name: "a", port: 0, targetPort: 70000, group: "g", protocol: "udp", extra: 1 });
    expect(v.map((x) => x.field).sort()).toEqual(["spec", "spec.port", "spec.protocol", "spec.targetPort"]);
  });
});
