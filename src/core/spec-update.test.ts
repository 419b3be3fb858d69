import { describe, expect, it } from "vitest";
import { BlixardError } from "./errors.js";
import { growthProblem, planSpecUpdate, SPEC_UPDATE_RULES, specChanges } from "./spec-update.js";
import { parseVmSpec, vmSpecSchema } from "./vm-spec.js";

const base = parseVmSpec({ name: "web", kernel: "/k", forwards: [{ host: 8080, guest: 80 }] });
const spec = (change: Record<string, unknown>) =>
  parseVmSpec({ name: "web", kernel: "/k", forwards: [{ host: 8080, guest: 80 }], ...change });

function refused(fn: () => unknown): BlixardError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BlixardError);
    return err as BlixardError;
  }
  throw new Error("expected the update to be refused");
}

describe("spec updates", () => {
  it("finds no change between a spec and itself with its defaults spelled out", () => {
    expect(specChanges(base, parseVmSpec({ ...base }))).toEqual([]);
    expect(planSpecUpdate(base, base)).toEqual({ changes: [], restart: false });
  });

  it("lists changed fields by dotted path, arrays as one value, unset sides as undefined", () => {
    const after = spec({
      memory: 512,
      restartBackoff: { initialSeconds: 1, maxSeconds: 30 },
      forwards: [{ host: 8081, guest: 80 }],
      initrd: "/i",
    });
    expect(specChanges(base, after)).toEqual([
      { path: "memory", before: 256, after: 512 },
      { path: "forwards", before: base.forwards, after: after.forwards },
      { path: "restartBackoff.maxSeconds", before: 60, after: 30 },
      { path: "initrd", before: undefined, after: "/i" },
    ]);
  });

  it("restarts the VM for a field its process was built from, not for one the agent reads live", () => {
    expect(planSpecUpdate(base, spec({ memory: 512 })).restart).toBe(true);
    expect(planSpecUpdate(base, spec({ forwards: [] })).restart).toBe(true);
    expect(planSpecUpdate(base, spec({ cmdline: "quiet" })).restart).toBe(true);
    expect(planSpecUpdate(base, spec({ restartPolicy: "never" }))).toEqual({
      changes: [{ path: "restartPolicy", before: "always", after: "never" }],
      restart: false,
    });
  });

  it("refuses the driver, the disk and the placement, naming each field and the way to change it", () => {
    // The disk's overlay holds the guest's writes: a new base image under it would corrupt them.
    const err = refused(() =>
      planSpecUpdate(
        spec({ disk: "/a.qcow2" }),
        spec({ disk: "/b.qcow2", placement: { node: "n2" }, memory: 512 }),
      ),
    );
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.violations?.map((v) => v.field)).toEqual(["spec.disk", "spec.placement"]);
    expect(err.message).toContain("blixard vm delete web && blixard vm create web");
    const driver = refused(() =>
      planSpecUpdate(base, parseVmSpec({ name: "web", driver: "microvm-nix", microvm: {} })),
    );
    expect(driver.violations?.map((v) => v.field)).toContain("spec.driver");
  });

  it("has a rule for every spec field, so a new field cannot slip through unclassified", () => {
    expect(Object.keys(SPEC_UPDATE_RULES).sort()).toEqual(Object.keys(vmSpecSchema.shape).sort());
  });

  it("refuses growth past the node's free share, per grown dimension, and always allows shrinking", () => {
    const free = { vcpus: 2, memoryMiB: 300 };
    expect(growthProblem("n1", free, base, spec({ memory: 300 }))).toEqual([]);
    const tooBig = growthProblem("n1", free, base, spec({ memory: 512, vcpus: 4 }));
    expect(tooBig.map((v) => v.field)).toEqual(["spec.memory", "spec.vcpus"]);
    expect(tooBig[0]!.message).toContain("node n1, which has 300 MiB");
    // A node overcommitted by others still lets this VM shrink or keep its size.
    const full = { vcpus: -1, memoryMiB: -100 };
    expect(growthProblem("n1", full, spec({ memory: 512 }), spec({ memory: 256 }))).toEqual([]);
    expect(growthProblem("n1", full, base, spec({ restartPolicy: "never" }))).toEqual([]);
  });
});
