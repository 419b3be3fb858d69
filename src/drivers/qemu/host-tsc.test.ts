import { describe, expect, it } from "vitest";
import { hostTscKhz, type TscProbe } from "./host-tsc.js";

function probe(files: Record<string, string>): TscProbe {
  return { read: (file) => files[file] };
}

describe("hostTscKhz", () => {
  it("prefers the kernel's exact tsc_freq_khz when it exists", () => {
    const files = {
      "/sys/devices/system/cpu/cpu0/tsc_freq_khz": "2596120\n",
      "/proc/cpuinfo": "cpu MHz\t\t: 1200.000\n",
    };
    expect(hostTscKhz(probe(files))).toBe(2_596_120);
  });

  it("falls back to the first 'cpu MHz' in /proc/cpuinfo", () => {
    const cpuinfo =
      "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.120\n\nprocessor\t: 1\ncpu MHz\t\t: 1.0\n";
    expect(hostTscKhz(probe({ "/proc/cpuinfo": cpuinfo }))).toBe(2_596_120);
  });

  it("gives up on missing or absurd values rather than guessing", () => {
    expect(hostTscKhz(probe({}))).toBeUndefined();
    expect(hostTscKhz(probe({ "/proc/cpuinfo": "cpu MHz\t: 0.5\n" }))).toBeUndefined();
    expect(hostTscKhz(probe({ "/proc/cpuinfo": "cpu MHz\t: fast\n" }))).toBeUndefined();
  });
});
