import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, TestNode } from "./harness.js";

describe("input validation at the edge", () => {
  let node: TestNode;
  let kernel: string;

  beforeAll(async () => {
    node = await TestNode.start();
    kernel = image().kernel;
  });
  afterAll(async () => node?.destroy());

  function expectRejected(args: string[], pattern: RegExp): void {
    const res = node.cli(...args);
    expect(res.code).not.toBe(0);
    const lines = res.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toMatch(pattern);
    expect(JSON.parse(node.ok("vm", "list", "-o", "json"))).toEqual([]);
    expect(readdirSync(join(node.dataDir, "vms"))).toEqual([]);
  }

  it.each([
    ["Web", /spec\.name: must be a DNS label/],
    ["../../etc", /spec\.name/],
    ["a".repeat(64), /spec\.name: must be at most 63 characters/],
    ["-x", /spec\.name/],
  ])("rejects the VM name %j", (name, pattern) => {
    expectRejected(["vm", "create", "--kernel", kernel, "--", name], pattern);
  });

  it.each([
    [["--replicas", "0"], /--replicas must be at least 1/],
    [["--replicas", "2", "--forward", "8080:80"], /replicas: replicas cannot forward host ports/],
    [["--constraint", "zone"], /spec\.placement\.constraints\.0: must be KEY=VALUE or KEY!=VALUE/],
    [["--strategy", "random"], /spec\.placement\.strategy/],
  ])("rejects the placement flags %j, naming the field", (flags, pattern) => {
    expectRejected(["vm", "create", "web", "--kernel", kernel, ...flags], pattern);
  });

  it("rejects an unknown flag in one line", () => {
    expectRejected(["vm", "create", "web", "--kernel", kernel, "--cpus", "2"], /unknown option '--cpus'/);
  });

  it("rejects a kernel that does not exist", () => {
    expectRejected(
      ["vm", "create", "web", "--kernel", "/nonexistent/vmlinuz"],
      /spec\.kernel: .*does not exist/,
    );
  });

  it("rejects a kernel path that climbs out with '..' before it is resolved", () => {
    const file = join(node.dataDir, "evil.json");
    writeFileSync(file, JSON.stringify({ kernel: "/boot/../etc/shadow" }));
    expectRejected(
      ["vm", "create", "web", "-f", file],
      /spec\.kernel: must not contain '\.' or '\.\.' segments/,
    );
  });

  it("rejects out-of-range resources, naming each field", () => {
    expectRejected(
      ["vm", "create", "web", "--kernel", kernel, "--vcpus", "0", "--memory", "1"],
      /spec\.vcpus.*spec\.memory|spec\.memory.*spec\.vcpus/,
    );
  });

  it("rejects a malformed port forward", () => {
    expectRejected(
      ["vm", "create", "web", "--kernel", kernel, "--forward", "80"],
      /--forward "80" must be HOST:GUEST/,
    );
  });

  it("rejects an unknown spec field instead of ignoring it", () => {
    const file = join(node.dataDir, "typo.toml");
    writeFileSync(file, `vcpu = 2\nkernel = "${kernel}"\n`);
    expectRejected(["vm", "create", "web", "-f", file], /vcpu/);
  });

  it("rejects an unknown restart policy", () => {
    expectRejected(
      ["vm", "create", "web", "--kernel", kernel, "--restart", "sometimes"],
      /spec\.restartPolicy/,
    );
  });

  it("rejects an invalid name on by-name commands", () => {
    const res = node.cli("vm", "stop", "NOPE");
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/^error: name: must be a DNS label/);
  });

  it("says how to reach a node that is not running", () => {
    const res = node.cli("--server", "http://127.0.0.1:1", "vm", "list");
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/cannot reach the blixard node at http:\/\/127\.0\.0\.1:1/);
  });
});
