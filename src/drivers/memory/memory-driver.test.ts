import { describe, expect, it } from "vitest";
import { parseVmSpec } from "../../core/vm-spec.js";
import { SeededRandom } from "../../sim/seeded-random.js";
import { ManualClock } from "../../testing/manual-clock.js";
import { expectCode } from "../contract/harness.contract.js";
import { runDriverContract } from "../driver.contract.js";
import { MemoryDriver } from "./memory-driver.js";
import { MemoryHost } from "./memory-host.js";

const STOP = { gracefulTimeoutMs: 5_000, quitTimeoutMs: 1_000, killTimeoutMs: 1_000 };
const spec = (name: string) => parseVmSpec({ name, kernel: "/k" });

runDriverContract("memory", async () => {
  const host = new MemoryHost({ clock: new ManualClock(0) });
  return {
    driver: new MemoryDriver(host),
    spec,
    missingFileSpec: (name) => {
      host.missingFiles.add("/missing/vmlinuz");
      return parseVmSpec({ name, kernel: "/missing/vmlinuz" });
    },
    restart: () => new MemoryDriver(host),
    kill: async (name) => host.crash(name),
    quarantined: async () => host.quarantined.map(({ name, reason }) => ({ vm: name, reason })),
    stopOptions: STOP,
    bootTimeoutMs: 1_000,
    cleanup: async () => {},
  };
});

describe("MemoryDriver's fault switches", () => {
  const setup = () => {
    const clock = new ManualClock(0);
    const host = new MemoryHost({ clock });
    return { clock, host, driver: new MemoryDriver(host) };
  };

  it("fails the next starts and prepares it is told to, then works again", async () => {
    const { host, driver } = setup();
    host.failPrepares = 1;
    host.failStarts = 1;
    await expectCode(driver.prepare("web", spec("web")), "DRIVER_FAILED");
    await driver.prepare("web", spec("web"));
    await expectCode(driver.start("web", spec("web")), "DRIVER_FAILED");
    expect(await driver.inspect("web")).toEqual({ state: "absent" });
    expect((await driver.start("web", spec("web"))).pid).toBe(1000);
    expect(driver.starts("web")).toBe(2);
  });

  it("fails a stop it is told to with the VM still running, as a process stuck in the kernel", async () => {
    const { host, driver } = setup();
    await driver.start("web", spec("web"));
    host.failStops = 1;
    await expectCode(driver.stop("web", STOP), "DRIVER_FAILED");
    expect((await driver.inspect("web")).state).toBe("running");
    expect(await driver.stop("web", STOP)).toBe("graceful");
  });

  it("spends the whole graceful timeout on a guest that ignores Ctrl-Alt-Del, then quits it", async () => {
    const { clock, host, driver } = setup();
    await driver.start("web", spec("web"));
    host.setIgnoresGraceful("web", true);
    let method: string | undefined;
    const stopping = driver.stop("web", STOP).then((m) => {
      method = m;
    });
    clock.advance(STOP.gracefulTimeoutMs - 1);
    await Promise.resolve();
    expect(method).toBeUndefined();
    clock.advance(1);
    await stopping;
    expect(method).toBe("quit");
  });

  it("shows a process that no driver started (a stray) to adoption, with an unknown exit once it dies", async () => {
    const { host, driver } = setup();
    host.spawn("stray");
    expect(await driver.adopt("stray")).toMatchObject({ state: "running", pid: 1000 });
    host.crash("stray");
    expect(await driver.inspect("stray")).toEqual({
      state: "exited",
      exit: { code: null, signal: null, known: false },
    });
  });

  it("once revoked (its agent died) refuses every call, and a start in flight has no effect", async () => {
    const clock = new ManualClock(0);
    const host = new MemoryHost({
      clock,
      random: new SeededRandom(1),
      faults: { bootMs: [100, 100], failStart: 0, ignoreGraceful: 0 },
    });
    const driver = new MemoryDriver(host);
    const starting = driver.start("web", spec("web"));
    driver.revoke();
    clock.advance(100);
    await expectCode(starting, "UNAVAILABLE");
    expect(host.running()).toEqual([]);
    await expectCode(driver.inspect("web"), "UNAVAILABLE");
    await expectCode(driver.list(), "UNAVAILABLE");
    // The host and a new agent's driver go on.
    expect(await new MemoryDriver(host).list()).toEqual(["web"]);
  });

  it("draws boot times and faults from the injected Random only: one seed, one run", async () => {
    const run = async () => {
      const clock = new ManualClock(0);
      const faults = { bootMs: [10, 1000] as [number, number], failStart: 0.3, ignoreGraceful: 0.5 };
      const host = new MemoryHost({ clock, random: new SeededRandom(7), faults });
      const driver = new MemoryDriver(host);
      const outcomes: string[] = [];
      for (let i = 0; i < 8; i++) {
        const name = `vm-${i}`;
        const started = driver.start(name, spec(name)).then(
          (s) => `started ${s.startedAt}`,
          (e: Error) => e.message,
        );
        clock.advance(1000);
        outcomes.push(await started);
      }
      return outcomes;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first.some((o) => o.startsWith("started"))).toBe(true);
    expect(first.some((o) => o.includes("simulated start failure"))).toBe(true);
  });

  it("counts log offsets and chunk sizes in bytes, as the real drivers read a log file", async () => {
    const { host, driver } = setup();
    await driver.prepare("web", spec("web"));
    host.write("web", "é\n");
    expect(await driver.logSize("web")).toBe(3);
    expect(await driver.logs("web")).toEqual({ text: "é\n", offset: 3 });
  });
});
