import { describe, expect, it } from "vitest";
import { describeFaults, FAULT_KEYS, FaultFlagError, parseFaults } from "./fault-flags.js";
import { DEFAULT_CONFIG } from "./world.js";

describe("the --faults flag", () => {
  it("sets the named fields over the defaults, leaving the defaults unchanged", () => {
    const before = structuredClone(DEFAULT_CONFIG);
    const s = parseFaults(
      "store.failBefore=0.05, driver.failStart=0.1,crashHost=0.02,partition=0,store.latencyMs=5-50",
      DEFAULT_CONFIG,
    );
    expect(s.storeFaults).toEqual({ ...DEFAULT_CONFIG.storeFaults, failBefore: 0.05, latencyMs: [5, 50] });
    expect(s.driverFaults.failStart).toBe(0.1);
    expect(s.crashHost).toBe(0.02);
    expect(s.partition).toBe(0);
    expect(s.crashVm).toBe(DEFAULT_CONFIG.crashVm);
    expect(DEFAULT_CONFIG).toEqual(before);
  });

  it("turns every fault off with none, and applies later settings over it", () => {
    const s = parseFaults("none,crashVm=0.3", DEFAULT_CONFIG);
    expect(s.storeFaults).toEqual({ latencyMs: [0, 0], failBefore: 0, failAfter: 0, watchBreak: 0 });
    expect(s.driverFaults).toEqual({ ...DEFAULT_CONFIG.driverFaults, failStart: 0, ignoreGraceful: 0 });
    expect([s.crashVm, s.restartAgent, s.crashHost, s.partition]).toEqual([0.3, 0, 0, 0]);
  });

  it("takes a single number as a range of one value", () => {
    expect(parseFaults("driver.bootMs=700", DEFAULT_CONFIG).driverFaults.bootMs).toEqual([700, 700]);
  });

  it.each([
    ["store.failbefore=0.1", /unknown setting "store.failbefore"; the settings are store.latencyMs, /],
    ["crashVm", /expected key=value or "none", got "crashVm"/],
    ["crashVm=1.5", /crashVm must be a probability from 0 to 1, got "1.5"/],
    ["partition=-0.1", /partition must be a probability from 0 to 1, got "-0.1"/],
    ["crashHost=", /crashHost must be a probability from 0 to 1, got ""/],
    ["crashHost=abc", /crashHost must be a probability/],
    ["store.latencyMs=30-10", /store.latencyMs must be milliseconds as min-max/],
    ["driver.bootMs=1-2-3", /driver.bootMs must be milliseconds/],
    ["driver.bootMs=0-999999", /max <= 60000/],
  ])("rejects %s with an error naming the key and what is allowed", (spec, message) => {
    expect(() => parseFaults(spec, DEFAULT_CONFIG)).toThrow(FaultFlagError);
    expect(() => parseFaults(spec, DEFAULT_CONFIG)).toThrow(message);
  });

  it("describes every setting in the syntax it parses", () => {
    const lines = describeFaults(DEFAULT_CONFIG);
    expect(lines.map((l) => l.split("=")[0])).toEqual(FAULT_KEYS);
    expect(lines).toContain("store.latencyMs=0-20");
    expect(parseFaults(lines.join(","), parseFaults("none", DEFAULT_CONFIG))).toEqual(
      parseFaults("", DEFAULT_CONFIG),
    );
  });
});
