import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type HostIsolation, probeCgroup, refusal } from "./host-isolation.js";

const capable: HostIsolation = {
  mode: "strict",
  cgroup: { version: "v1", root: "/sys/fs/cgroup" },
  mountNamespace: true,
  setpriv: true,
  root: true,
  passt: "/usr/bin/passt",
  missing: [],
};

describe("host isolation", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "cgroup-probe-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("starts a strict node on a host that has every piece", () => {
    expect(refusal(capable)).toBeUndefined();
  });

  it("refuses a strict node on a host lacking a piece, naming it and the flag that overrides it", () => {
    // The attack it stops: a node that silently runs every guest's qemu as root with all capabilities.
    const problem = refusal({
      ...capable,
      cgroup: undefined,
      missing: ["no writable cgroup hierarchy"],
    } as HostIsolation);
    expect(problem).toMatch(/no writable cgroup hierarchy/);
    expect(problem).toMatch(/--isolation none/);
    expect(refusal({ ...capable, mode: "none", missing: ["no writable cgroup hierarchy"] })).toBeUndefined();
  });

  it("refuses any node without passt rather than falling back to slirp, which hands guests the host's loopback", () => {
    const { passt: _, ...withoutPasst } = capable;
    expect(refusal(withoutPasst)).toMatch(/passt is not installed/);
    expect(refusal({ ...withoutPasst, mode: "none" })).toMatch(/passt is not installed/);
  });

  it("finds cgroup v1's three hierarchies, v2's unified one, or none", () => {
    expect(probeCgroup(root)).toBeUndefined();
    for (const c of ["memory", "cpu", "pids"]) {
      mkdirSync(join(root, c));
      writeFileSync(join(root, c, "tasks"), "");
    }
    expect(probeCgroup(root)).toEqual({ version: "v1", root });
    const v2 = join(root, "unified");
    mkdirSync(v2);
    writeFileSync(join(v2, "cgroup.controllers"), "cpuset cpu io memory pids\n");
    expect(probeCgroup(v2)).toEqual({ version: "v2", root: v2 });
    writeFileSync(join(v2, "cgroup.controllers"), "cpuset io\n");
    expect(probeCgroup(v2)).toBeUndefined();
  });
});
