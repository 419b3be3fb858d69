/**
 * Cold CLI latency: a fresh `blixard vm list` process per run (the Connect client), and a fresh
 * `blixard vm stop NAME --no-wait` (the plain JSON call that `vm start` makes too), against a bare
 * `node -e 0` start.
 */
import { spawnSync } from "node:child_process";
import { BenchNode, CLI } from "./bench-node.js";

export interface CliLatency {
  listMs: number[];
  stopMs: number[];
  nodeBaselineMs: number[];
}

function timeRun(args: string[]): number {
  const t0 = performance.now();
  const res = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - t0;
  if (res.status !== 0) throw new Error(`${args.join(" ")} failed: ${res.stderr}`);
  return ms;
}

export async function measureCliLatency(kernel: string, runs: number): Promise<CliLatency> {
  const node = new BenchNode();
  await node.start();
  try {
    for (let i = 0; i < 3; i++) node.cli("vm", "create", `vm-${i}`, "--kernel", kernel);
    const result: CliLatency = { listMs: [], stopMs: [], nodeBaselineMs: [] };
    const cli = [CLI, "--server", node.url, "--data-dir", node.dataDir];
    for (let i = 0; i < runs; i++) {
      result.nodeBaselineMs.push(timeRun(["-e", "0"]));
      result.listMs.push(timeRun([...cli, "vm", "list"]));
      // vm-0 was never started: the stop is recorded and nothing else happens.
      result.stopMs.push(timeRun([...cli, "vm", "stop", "vm-0", "--no-wait"]));
    }
    return result;
  } finally {
    await node.stop();
  }
}
