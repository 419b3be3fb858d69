/** A blixard node process for benchmarks: its own data dir and port, killed by pid afterwards. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { Agent } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { killNodeVms } from "../daemon/watchdog/kill-vms.js";
import { removeJailLeftovers } from "../drivers/jail/leftovers.js";
import { nodeHttpsAgent } from "../pki/https-agent.js";
import { httpsRequest } from "../pki/https-request.js";
import { type NodeTls, pkiLayout, readNodeTls } from "../pki/pki-files.js";
import { freePort, freePortRun } from "../store/etcd/free-ports.js";

export { freePort };

export const REPO = resolve(import.meta.dirname, "../..");
export const CLI = join(REPO, "dist/cli/main.js");

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

  port = 0;

  host = "127.0.0.1";

  /** The node's CA and certificate once it has them (cluster nodes serve TLS). */
  tls(): NodeTls | undefined {
    const pki = pkiLayout(this.dataDir);
    return existsSync(pki.caCert) ? readNodeTls(pki) : undefined;
  }

  /**
   * Connect/gRPC transport options: the admin token, and the cluster CA to verify the node with when
   * it serves TLS.
   */
  transportOptions(): { baseUrl: string; nodeOptions?: { agent: Agent }; interceptors: Interceptor[] } {
    const tls = this.tls();
    const base = { baseUrl: this.url, interceptors: this.auth() };
    return tls ? { ...base, nodeOptions: { agent: nodeHttpsAgent(tls) } } : base;
  }

  /** GET a path (with the node's token when `auth`), over TLS when the node serves it. */
  async get(path: string, auth = false): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = auth ? { authorization: `Bearer ${this.token()}` } : {};
    const tls = this.tls();
    if (!tls) {
      const res = await fetch(`${this.url}${path}`, { headers });
      return { status: res.status, body: await res.text() };
    }
    const reply = await httpsRequest(`${this.url}${path}`, { caPem: tls.caPem }, { headers });
    return { status: reply.status, body: reply.body };
  }

  /** Starts the node; `extraArgs` such as --cluster-init. The port stays the same across restarts. */
  async start(extraArgs: string[] = []): Promise<void> {
    this.port ||= await freePortRun(3);
    const log = openSync(join(this.dataDir, "node.log"), "a");
    const bind = `${this.host}:${this.port}`;
    this.proc = spawn(
      process.execPath,
      [
        // BLIXARD_BENCH_CPU_PROF=DIR: each node writes a V8 CPU profile there when it exits.
        ...(process.env["BLIXARD_BENCH_CPU_PROF"]
          ? ["--cpu-prof", `--cpu-prof-dir=${process.env["BLIXARD_BENCH_CPU_PROF"]}`]
          : []),
        CLI,
        "node",
        "--data-dir",
        this.dataDir,
        "--bind",
        bind,
        "--log-level",
        "warn",
        ...extraArgs,
      ],
      { stdio: ["ignore", log, log] },
    );
    closeSync(log);
    const proc = this.proc;
    await waitFor(
      "the node",
      () => {
        if (proc.exitCode !== null)
          throw new Error(
            `node exited: ${readFileSync(join(this.dataDir, "node.log"), "utf8").slice(-2000)}`,
          );
        this.url = `${this.tls() ? "https" : "http"}://${this.host}:${this.port}`;
        return this.get("/healthz").then(
          (r) => r.status === 200,
          () => false,
        );
      },
      120_000,
    );
  }

  /** The admin token the node wrote at first start: every API request needs it, loopback too. */
  token(): string {
    return readFileSync(join(this.dataDir, "token"), "utf8").trim();
  }

  /** Transport interceptors that send the admin token. */
  auth(): Interceptor[] {
    const header = `Bearer ${this.token()}`;
    return [
      (next) => (req) => {
        req.header.set("authorization", header);
        return next(req);
      },
    ];
  }

  /** Pids of the node process and of its managed etcd member (when it has one running). */
  pids(): { node: number | undefined; etcd: number | undefined } {
    const pidfile = join(this.dataDir, "etcd", "etcd.pid");
    const etcd = existsSync(pidfile) ? Number.parseInt(readFileSync(pidfile, "utf8"), 10) : undefined;
    return { node: this.proc?.pid, etcd: etcd !== undefined && etcd > 0 ? etcd : undefined };
  }

  /** SIGKILLs the node process only (its VMs and etcd member keep running), and waits for it to die. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  }

  /** SIGTERM, and up to `ms` for the node to exit. */
  private async terminate(ms: number): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, ms))]);
  }

  /** The node's id, from its data dir. */
  get id(): string {
    return (JSON.parse(readFileSync(join(this.dataDir, "node.json"), "utf8")) as { id: string }).id;
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
    const res = spawnSync(
      process.execPath,
      [CLI, "--server", this.url, "--data-dir", this.dataDir, ...args],
      {
        encoding: "utf8",
      },
    );
    if (res.status !== 0) throw new Error(`blixard ${args.join(" ")}: ${res.stderr}`);
    return res.stdout;
  }

  consoleLog(name: string): string {
    const file = join(this.dataDir, "vms", name, "console.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  async stop(): Promise<void> {
    // A profiled node must exit by itself to write its profile.
    if (process.env["BLIXARD_BENCH_CPU_PROF"]) await this.terminate(15_000);
    await this.kill();
    killByPidfile(join(this.dataDir, "etcd", "etcd.pid"), this.dataDir);
    killByPidfile(join(this.dataDir, "watchdog.pid"), "watchdog-main.js");
    const vms = join(this.dataDir, "vms");
    for (const name of existsSync(vms) ? readdirSync(vms) : []) {
      const pidfile = join(vms, name, "qemu.pid");
      if (!existsSync(pidfile)) continue;
      killByPidfile(pidfile, join(vms, name));
    }
    // Each VM's passt too (it would end with qemu), then the cgroups and uid claims the jail made.
    await killNodeVms(vms);
    await removeJailLeftovers(vms);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** SIGKILLs the process in `pidfile` if its command line names `owner` (so a reused pid is spared). */
function killByPidfile(pidfile: string, owner: string): void {
  if (!existsSync(pidfile)) return;
  const pid = Number.parseInt(readFileSync(pidfile, "utf8"), 10);
  const cmdline =
    pid > 0 && existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
  if (cmdline.includes(owner)) process.kill(pid, "SIGKILL");
}

/** Three (or `size`) nodes with managed etcd: the first forms the cluster, the others join through it. */
export async function formCluster(size: number, flags: string[] = []): Promise<BenchNode[]> {
  const nodes = Array.from({ length: size }, () => new BenchNode());
  const [first] = nodes;
  await first!.start(["--cluster-init", ...flags]);
  const token = readFileSync(join(first!.dataDir, "join-token"), "utf8").trim();
  for (const node of nodes.slice(1)) {
    await node.start(["--join", `127.0.0.1:${first!.port}`, "--token", token, ...flags]);
  }
  return nodes;
}
