/** Cold CLI latency: a fresh `blixard vm list` process per run, against a bare `node -e 0` start. */
import { spawnSync } from "node:child_process";
import { BenchNode, CLI } from "./bench-node.js";

export interface CliLatency {
  listMs: number[];
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
    const result: CliLatency = { listMs: [], nodeBaselineMs: [] };
    for (let i = 0; i < runs; i++) {
      result.nodeBaselineMs.push(timeRun(["-e", "0"]));
      result.listMs.push(timeRun([CLI, "--server", node.url, "--data-dir", node.dataDir, "vm", "list"]));
    }
    return result;
  } finally {
    await node.stop();
  }
}
