/**
 * Chooses the qemu accelerator. /dev/kvm existing is not enough: inside some VMs (these development
 * machines, for one) it opens fine but the virtual CPU has no vmx/svm, and KVM guests then fail to
 * start. So auto picks KVM only when both the device opens read-write and the CPU flags show
 * hardware virtualisation; everything else runs under TCG, which is slow but always works.
 */
import { closeSync, openSync, readFileSync } from "node:fs";
import { BlixardError } from "../../core/errors.js";

export type AccelMode = "auto" | "kvm" | "tcg";
export type Accel = "kvm" | "tcg";

export interface AccelChoice {
  accel: Accel;
  /** Why this accelerator, for logs and `node status`. */
  reason: string;
}

export interface AccelProbe {
  canOpenKvm(): boolean;
  cpuinfo(): string;
}

export const hostAccelProbe: AccelProbe = {
  canOpenKvm() {
    try {
      closeSync(openSync("/dev/kvm", "r+"));
      return true;
    } catch {
      return false;
    }
  },
  cpuinfo() {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  },
};

/** Whether any CPU's `flags` line lists vmx (Intel VT-x) or svm (AMD-V). */
export function hasVirtualisationFlags(cpuinfo: string): boolean {
  return cpuinfo
    .split("\n")
    .filter((line) => /^flags\s*:/.test(line))
    .some((line) => /\s(vmx|svm)(\s|$)/.test(line.slice(line.indexOf(":"))));
}

/** Why KVM cannot be used on this host, or undefined when it can. */
export function kvmProblem(probe: AccelProbe): string | undefined {
  if (!probe.canOpenKvm()) return "/dev/kvm is missing or cannot be opened read-write";
  if (!hasVirtualisationFlags(probe.cpuinfo())) {
    return "/proc/cpuinfo shows neither vmx nor svm (no hardware virtualisation, e.g. nested without it)";
  }
  return undefined;
}

export function detectAccel(mode: AccelMode, probe: AccelProbe = hostAccelProbe): AccelChoice {
  if (mode === "tcg") return { accel: "tcg", reason: "TCG requested with --accel tcg" };
  const problem = kvmProblem(probe);
  if (mode === "kvm") {
    if (problem) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `KVM was requested but cannot be used: ${problem}; run with --accel tcg (slow software emulation) or --accel auto`,
      );
    }
    return { accel: "kvm", reason: "KVM requested with --accel kvm and usable" };
  }
  if (problem) return { accel: "tcg", reason: `KVM unusable, falling back to TCG: ${problem}` };
  return { accel: "kvm", reason: "/dev/kvm opens read-write and the CPU has vmx/svm" };
}
