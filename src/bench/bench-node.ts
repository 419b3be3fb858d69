/** A blixard node process for benchmarks: its own data dir and port, killed by pid afterwards. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => ok(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class BenchNode {
  readonly dataDir = mkdtempSync(join(tmpdir(), "blixard-bench-"));
  url = "";
  private proc: ChildProcess | undefined;

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const log = openSync(join(this.dataDir, "node.log"), "a");
    this.proc = spawn(
      process.execPath,
      [CLI, "node", "--data-dir", this.dataDir, "--bind", `127.0.0.1:${port}`, "--log-level", "warn"],
      {
        stdio: ["ignore", log, log],
      },
    );
    closeSync(log);
    await waitFor(
      "the node",
      () =>
        fetch(`${this.url}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
    );
  }

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  /** Resident set size of the node process in KiB. */
  rssKiB(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }

  /** Median RSS over several samples, so one GC does not decide the figure. */
  async settledRssKiB(samples = 7, intervalMs = 500): Promise<number> {
    const values: number[] = [];
    for (let i = 0; i < samples; i++) {
      values.push(this.rssKiB());
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    return values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  }

  cli(...args: string[]): string {
    const res = spawnSync(process.execPath, [CLI, "--server", this.url, ...args], { encoding: "utf8" });
    if (res.status !== 0) throw new Error(`blixard ${args.join(" ")}: ${res.stderr}`);
    return res.stdout;
  }

  consoleLog(name: string): string {
    const file = join(this.dataDir, "vms", name, "console.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      await exited;
    }
    const vms = join(this.dataDir, "vms");
    for (const name of existsSync(vms) ? readdirSync(vms) : []) {
      const pidfile = join(vms, name, "qemu.pid");
      if (!existsSync(pidfile)) continue;
      const pid = Number.parseInt(readFileSync(pidfile, "utf8"), 10);
      const cmdline =
        pid > 0 && existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
      if (cmdline.includes(join(vms, name))) process.kill(pid, "SIGKILL");
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
