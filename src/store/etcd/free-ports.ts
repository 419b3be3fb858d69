/**
 * Free TCP ports on loopback for test clusters and benchmarks. Ports are drawn at random from outside
 * the kernel's ephemeral range (net.ipv4.ip_local_port_range): a port inside it can be taken at any
 * moment as the local end of some outgoing connection (an etcd client, an HTTP call), which is what
 * made "the etcd client port is already in use" flake when a node bound API + 1 seconds after the
 * port was found free. Each candidate is proven free by binding it; all stay bound until the whole
 * answer is known, so one call never returns the same port twice.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

const LOWEST = 10_000;
const HIGHEST = 65_535;

/** The kernel's ephemeral port range, or Linux's default when it cannot be read. */
export function ephemeralRange(
  read: () => string = () => readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8"),
): [number, number] {
  try {
    const [low, high] = read().trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! <= high!) return [low!, high!];
  } catch {
    // Not Linux, or no /proc: fall through to the default.
  }
  return [32_768, 60_999];
}

/** Random first ports P of runs P..P+span-1 that lie wholly outside the ephemeral range. */
function* candidates(span: number, random: () => number): Generator<number> {
  const [low, high] = ephemeralRange();
  const ranges = [
    [LOWEST, low - span],
    [high + 1, HIGHEST - span + 1],
  ].filter(([from, to]) => to! >= from!) as [number, number][];
  const total = ranges.reduce((sum, [from, to]) => sum + to - from + 1, 0);
  if (total === 0) throw new Error("no ports outside the ephemeral range to choose from");
  for (;;) {
    let pick = Math.floor(random() * total);
    for (const [from, to] of ranges) {
      const size = to - from + 1;
      if (pick < size) {
        yield from + pick;
        break;
      }
      pick -= size;
    }
  }
}

function listen(host: string, port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen(port, host, () => resolve(server));
  });
}

const close = (servers: Server[]) =>
  Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));

/** Binds P..P+span-1, or binds nothing and answers undefined when any of them is taken. */
async function bindRun(host: string, port: number, span: number): Promise<Server[] | undefined> {
  const servers: Server[] = [];
  for (let i = 0; i < span; i++) {
    const server = await listen(host, port + i);
    if (server === undefined) {
      await close(servers);
      return undefined;
    }
    servers.push(server);
  }
  return servers;
}

/** `count` runs of `span` consecutive free ports, none overlapping; answers each run's first port. */
async function freeRuns(count: number, span: number, host: string, random: () => number): Promise<number[]> {
  const held: Server[] = [];
  const firsts: number[] = [];
  try {
    const source = candidates(span, random);
    for (let attempt = 0; firsts.length < count; attempt++) {
      if (attempt >= 200 * count) throw new Error(`found no ${span} consecutive free ports on ${host}`);
      const port = source.next().value as number;
      const servers = await bindRun(host, port, span);
      if (servers === undefined) continue;
      held.push(...servers);
      firsts.push(port);
    }
    return firsts;
  } finally {
    await close(held);
  }
}

export function freePorts(count: number, host = "127.0.0.1", random = Math.random): Promise<number[]> {
  return freeRuns(count, 1, host, random);
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}

/** A port P such that P..P+span-1 are all free: a node with a managed etcd member uses API + 1 and + 2. */
export async function freePortRun(span: number, host = "127.0.0.1", random = Math.random): Promise<number> {
  const [port] = await freeRuns(1, span, host, random);
  return port!;
}
