import { describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import { type AccelProbe, detectAccel, hasVirtualisationFlags } from "./accel.js";

const INTEL = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme de pse vmx sse2\n";
const AMD = "processor\t: 0\nflags\t\t: fpu svm lm\n";
const NESTED_WITHOUT = "processor\t: 0\nflags\t\t: fpu vme hypervisor lm\nvmx flags\t: ept\n";

function probe(canOpenKvm: boolean, cpuinfo: string): AccelProbe {
  return { canOpenKvm: () => canOpenKvm, cpuinfo: () => cpuinfo };
}

describe("detectAccel", () => {
  it("picks KVM in auto mode when /dev/kvm opens and the CPU has vmx", () => {
    expect(detectAccel("auto", probe(true, INTEL)).accel).toBe("kvm");
  });

  it("picks KVM in auto mode on AMD (svm)", () => {
    expect(detectAccel("auto", probe(true, AMD)).accel).toBe("kvm");
  });

  it("falls back to TCG when /dev/kvm opens but the CPU flags lack vmx and svm", () => {
    const choice = detectAccel("auto", probe(true, NESTED_WITHOUT));
    expect(choice.accel).toBe("tcg");
    expect(choice.reason).toMatch(/neither vmx nor svm/);
  });

  it("falls back to TCG when /dev/kvm cannot be opened", () => {
    const choice = detectAccel("auto", probe(false, INTEL));
    expect(choice.accel).toBe("tcg");
    expect(choice.reason).toMatch(/\/dev\/kvm/);
  });

  it("uses TCG when asked, without probing", () => {
    const throwing: AccelProbe = {
      canOpenKvm: () => {
        throw new Error("must not probe");
      },
      cpuinfo: () => "",
    };
    expect(detectAccel("tcg", throwing).accel).toBe("tcg");
  });

  it("fails a forced KVM that cannot work, saying why and suggesting --accel tcg", () => {
    let caught: unknown;
    try {
      detectAccel("kvm", probe(true, NESTED_WITHOUT));
    } catch (err) {
      caught = err;
    }
    expect(isBlixardError(caught, "FAILED_PRECONDITION")).toBe(true);
    expect((caught as Error).message).toMatch(/neither vmx nor svm/);
    expect((caught as Error).message).toMatch(/--accel tcg/);
  });

  it("accepts a forced KVM that works", () => {
    expect(detectAccel("kvm", probe(true, INTEL)).accel).toBe("kvm");
  });
});

describe("hasVirtualisationFlags", () => {
  it("reads only the flags line, not words like 'vmx flags' elsewhere", () => {
    expect(hasVirtualisationFlags(NESTED_WITHOUT)).toBe(false);
    expect(hasVirtualisationFlags("flags\t: vmx\n")).toBe(true);
    expect(hasVirtualisationFlags("flags\t: vmxe\n")).toBe(false);
  });
});
