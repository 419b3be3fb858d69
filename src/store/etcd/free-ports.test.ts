import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ephemeralRange, freePortRun, freePorts } from "./free-ports.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function occupy(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      servers.push(server);
      resolve();
    });
  });
}

/** Random numbers that replay the given sequence, then repeat its last value. */
const replay = (values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
};

describe("free ports", () => {
  it("reads the kernel's ephemeral range, and falls back to Linux's default", () => {
    expect(ephemeralRange(() => "32768\t60999\n")).toEqual([32768, 60999]);
    expect(ephemeralRange(() => "1024 65000")).toEqual([1024, 65000]);
    expect(ephemeralRange(() => "garbage")).toEqual([32768, 60999]);
    expect(
      ephemeralRange(() => {
        throw new Error("no /proc");
      }),
    ).toEqual([32768, 60999]);
  });

  it("never answers a port an outgoing connection could take as its local end", async () => {
    // The flake this stops: a port found free inside the ephemeral range was taken by some client
    // connection before the node bound it ("the etcd client port ... is already in use").
    const [low, high] = ephemeralRange();
    const ports = await freePorts(50);
    expect(new Set(ports).size).toBe(50);
    for (const port of ports) expect(port < low || port > high).toBe(true);
    const run = await freePortRun(3);
    for (const port of [run, run + 1, run + 2]) expect(port < low || port > high).toBe(true);
  });

  it("skips a run whose later port is taken, and a taken single port", async () => {
    const [low, high] = ephemeralRange();
    const total = low - 3 - 10_000 + 1 + (65_535 - 3 + 1 - high);
    const at = (port: number) => (port - 10_000 + 0.5) / total; // a run starting at `port`, below the range
    const base = 10_000 + Math.floor(0.1 * total);
    const other = base + 100;
    await occupy(base + 1);
    const run = await freePortRun(3, "127.0.0.1", replay([at(base), at(other)]));
    expect(run).toBe(other);
    const [single] = await freePorts(1, "127.0.0.1", replay([at(base + 1), at(other + 50)]));
    expect(single).toBe(other + 50);
  });

  it("holds every answered port until all are known, so one call never repeats a port", async () => {
    // A random source stuck on one value: the second pick finds its own first pick still bound and
    // must fail rather than answer the same port twice.
    await expect(freePorts(2, "127.0.0.1", () => 0.25)).rejects.toThrow(/found no 1 consecutive free ports/);
  });
});
