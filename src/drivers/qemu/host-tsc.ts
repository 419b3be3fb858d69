/**
 * The host's TSC frequency, handed to TCG guests as `tsc_early_khz=`.
 *
 * Why: a microvm guest has no HPET or ACPI PM timer, so Linux can only calibrate its TSC against the
 * PIT. Under TCG on a busy host that calibration fails ("tsc: Unable to calibrate against PIT"), the
 * kernel marks the TSC unusable and then hangs for ever calibrating the local APIC timer. Seen here
 * with four guests booting at once on two cores: all four hung; with the frequency given, all four
 * booted. Under TCG the guest's TSC ticks at the host's rate, so the host's frequency is right.
 */
import { readFileSync } from "node:fs";

export interface TscProbe {
  /** Returns the file's contents, or undefined when it cannot be read. */
  read(file: string): string | undefined;
}

export const hostTscProbe: TscProbe = {
  read(file) {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
  },
};

/**
 * The host TSC frequency in kHz, or undefined when it cannot be found. Prefers the exact value some
 * kernels export; otherwise uses /proc/cpuinfo's "cpu MHz", which equals the TSC rate on hosts
 * without APERF/MPERF (VMs, like these machines) and is close to it elsewhere (a wrong rate makes the
 * guest clock drift, which is far better than a guest that never boots).
 */
export function hostTscKhz(probe: TscProbe = hostTscProbe): number | undefined {
  const exact = Number.parseInt(probe.read("/sys/devices/system/cpu/cpu0/tsc_freq_khz")?.trim() ?? "", 10);
  if (Number.isInteger(exact) && exact > 0) return exact;
  const cpuinfo = probe.read("/proc/cpuinfo") ?? "";
  const mhz = /^cpu MHz\s*:\s*([0-9]+(?:\.[0-9]+)?)\s*$/m.exec(cpuinfo)?.[1];
  const khz = mhz === undefined ? Number.NaN : Math.round(Number.parseFloat(mhz) * 1000);
  // Anything outside 100 MHz..20 GHz is a parsing accident, not a clock.
  return khz >= 100_000 && khz <= 20_000_000 ? khz : undefined;
}
