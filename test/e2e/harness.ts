/**
 * Drives real blixard processes for e2e tests: a node daemon on a free loopback port with its own data
 * dir, and the CLI as a user runs it. A node can also run inside a network namespace (a test host of
 * netns-hosts.ts): then the daemon, its CLI calls and the harness's own requests to it all run through
 * `ip netns exec`. Everything started is killed by pid, never by pattern.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killNodeVms } from "../../src/daemon/watchdog/kill-vms.js";
import { removeJailLeftovers } from "../../src/drivers/jail/leftovers.js";
import { sweepHostsDirs } from "../../src/net/dnsmasq-leftovers.js";
import { HOSTS_ROOT } from "../../src/net/dnsmasq-process.js";
import { httpsRequest } from "../../src/pki/https-request.js";
import { freePort, freePortRun } from "../../src/store/etcd/free-ports.js";

export { freePort };

import { inHostNetns } from "../../src/testing/netns-hosts.js";
import { imageDir, REPO } from "./global-setup.js";

export const CLI = join(REPO, "dist/cli/main.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function image(): { kernel: string; initrd: string } {
  const dir = imageDir();
  const vmlinux = join(dir, "vmlinux");
  return { kernel: existsSync(vmlinux) ? vmlinux : join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * GET through the node's own CA when the URL is https (a cluster node serves TLS), plain HTTP
 * otherwise, each on a connection of its own: fetch's pooled keep-alive connections were, a few
 * times under load, reused just as the node closed them ("other side closed"), which says nothing
 * about the node. Resolves with the status and body.
 */
export async function getFrom(
  node: TestNode,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  if (node.netns !== undefined) return getInNetns(node, node.netns, path, headers);
  if (!node.url.startsWith("https://")) {
    return new Promise((resolve, reject) => {
      httpGet(`${node.url}${path}`, { headers, agent: false, timeout: 5_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      })
        .on("timeout", function (this: { destroy(err: Error): void }) {
          this.destroy(new Error(`no answer from ${node.url}${path} within 5 s`));
        })
        .on("error", reject);
    });
  }
  const reply = await httpsRequest(`${node.url}${path}`, { caPem: node.caPem() }, { headers });
  return { status: reply.status, body: reply.body };
}

/**
 * The same GET from inside the node's network namespace (its address is reachable only there): a
 * short-lived node process in the namespace, with the request's values as argv, never in the script.
 */
const NETNS_GET = `
const [url, caFile, headers, module] = process.argv.slice(1);
const { readFileSync } = await import("node:fs");
const reply = url.startsWith("https://")
  ? await (await import(module)).httpsRequest(url, { caPem: readFileSync(caFile, "utf8") }, { headers: JSON.parse(headers) })
  : await fetch(url, { headers: JSON.parse(headers), signal: AbortSignal.timeout(5000) }).then(async (r) => ({ status: r.status, body: await r.text() }));
process.stdout.write(JSON.stringify({ status: reply.status, body: reply.body }));
`;

function getInNetns(
  node: TestNode,
  netns: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const argv = [
    ...["netns", "exec", netns, process.execPath, "--input-type=module", "-e", NETNS_GET],
    ...[`${node.url}${path}`, join(node.dataDir, "pki", "ca.crt"), JSON.stringify(headers)],
    join(REPO, "dist/pki/https-request.js"),
  ];
  return new Promise((resolve, reject) => {
    execFile("ip", argv, { encoding: "utf8", timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`GET ${node.url}${path} in ${netns} failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as { status: number; body: string });
    });
  });
}

export class TestNode {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  /** The network namespace the node runs in (a test host), or undefined for the host's own. */
  readonly netns: string | undefined;
  private proc: ChildProcess | undefined;
  private readonly extraArgs: string[];
  private readonly env: Record<string, string>;

  private constructor(dataDir: string, port: number, extraArgs: string[], options: NodeOptions) {
    this.dataDir = dataDir;
    this.port = port;
    this.host = options.host ?? "127.0.0.1";
    this.netns = options.netns;
    this.extraArgs = extraArgs;
    this.env = options.env ?? {};
  }

  static async start(extraArgs: string[] = [], options: NodeOptions = {}): Promise<TestNode> {
    const node = await TestNode.create(extraArgs, options);
    try {
      await node.launch();
    } catch (err) {
      await node.destroy();
      throw err;
    }
    return node;
  }

  /** A node that is not started yet: launch() it, e.g. to watch it refuse to start. */
  static async create(extraArgs: string[] = [], options: NodeOptions = {}): Promise<TestNode> {
    const dataDir = mkdtempSync(join(tmpdir(), "blixard-e2e-"));
    const port = options.port ?? (await freePortRun(options.portSpan ?? 1));
    return new TestNode(dataDir, port, extraArgs, options);
  }

  /** https once the node has a CA (cluster nodes, and nodes bound beyond loopback, serve TLS). */
  get url(): string {
    const scheme = existsSync(join(this.dataDir, "pki", "ca.crt")) ? "https" : "http";
    return `${scheme}://${this.host}:${this.port}`;
  }

  caPem(): string {
    return readFileSync(join(this.dataDir, "pki", "ca.crt"), "utf8");
  }

  /** The bootstrap join token that --cluster-init wrote. */
  joinToken(): string {
    return readFileSync(join(this.dataDir, "join-token"), "utf8").trim();
  }

  /** The pid of the node's managed etcd member, from its pidfile, while it runs. */
  etcdPid(): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(join(this.dataDir, "etcd", "etcd.pid"), "utf8"), 10);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return cmdline.includes(this.dataDir) && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** The pid of the node's watchdog (cluster nodes), from its pidfile, while it runs. */
  watchdogPid(): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(join(this.dataDir, "watchdog.pid"), "utf8"), 10);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return cmdline.includes("watchdog-main.js") && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends a signal to the daemon without waiting (SIGSTOP/SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void {
    this.proc?.kill(signal);
  }

  /** Resolves with the exit code once the daemon has exited on its own. */
  exited(): Promise<number | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null)
      return Promise.resolve(proc?.exitCode ?? null);
    return new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts (or restarts) the daemon on the same data dir and port, with the node's flags plus `flags`. */
  async launch(flags: string[] = []): Promise<void> {
    const log = openSync(join(this.dataDir, "node.log"), "a");
    // "--bind-all" is the harness's shorthand for the wildcard address on the node's port.
    const wanted = [...this.extraArgs, ...flags];
    const bind = `${wanted.includes("--bind-all") ? "0.0.0.0" : this.host}:${this.port}`;
    const rest = wanted.filter((f) => f !== "--bind-all");
    const [cmd, ...args] = this.wrap([
      process.execPath,
      CLI,
      "node",
      "--data-dir",
      this.dataDir,
      "--bind",
      bind,
      ...rest,
    ]);
    this.proc = spawn(cmd!, args, {
      stdio: ["ignore", log, log],
      env: { ...process.env, ...this.env },
    });
    closeSync(log);
    await until(
      "the node to answer /healthz",
      async () => {
        const proc = this.proc;
        if (proc?.exitCode !== null || proc.signalCode !== null)
          throw new Error(`node exited early (${proc?.exitCode ?? proc?.signalCode}):\n${this.log()}`);
        return getFrom(this, "/healthz").then(
          (r) => r.status === 200 || undefined,
          () => undefined,
        );
      },
      // A joining node answers once its etcd member has caught up and been promoted.
      60_000,
    );
  }

  /**
   * Sends a signal to the daemon and waits for it to exit. A clean stop (SIGTERM/SIGINT) that exits
   * non-zero means a shutdown step failed: the log's tail is printed so the cause shows in CI output.
   */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    if (proc.exitCode !== null || proc.signalCode !== null) {
      if (proc.exitCode !== 0) {
        process.stderr.write(
          `node ${this.dataDir} had already exited (${proc.exitCode ?? proc.signalCode}):\n${this.log().slice(-6000)}\n`,
        );
      }
      return;
    }
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    proc.kill(signal);
    const code = await exited;
    if ((signal === "SIGTERM" || signal === "SIGINT") && code !== 0) {
      process.stderr.write(`node ${this.dataDir} exited ${code} on ${signal}:\n${this.log().slice(-4000)}\n`);
    }
  }

  cli(...args: string[]): CliResult {
    return this.cliEnv({}, ...args);
  }

  /** The admin token the node wrote to its data dir, for raw HTTP requests (every request needs one). */
  adminToken(): string {
    return readFileSync(join(this.dataDir, "token"), "utf8").trim();
  }

  /**
   * Runs the CLI with extra environment variables (BLIXARD_DATA_DIR defaults to this node's, and
   * BLIXARD_CA_FILE to its CA when it serves TLS, as a user who configured the CA).
   */
  cliEnv(env: Record<string, string>, ...args: string[]): CliResult {
    const ca = join(this.dataDir, "pki", "ca.crt");
    const [cmd, ...argv] = this.wrap([process.execPath, CLI, "--server", this.url, ...args]);
    const res = spawnSync(cmd!, argv, {
      encoding: "utf8",
      env: {
        ...process.env,
        BLIXARD_DATA_DIR: this.dataDir,
        ...(existsSync(ca) ? { BLIXARD_CA_FILE: ca } : {}),
        ...env,
      },
      timeout: 300_000,
    });
    return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
  }

  /** The CLI as cli() runs it, without blocking: for many requests at once. */
  cliAsync(...args: string[]): Promise<CliResult> {
    const ca = join(this.dataDir, "pki", "ca.crt");
    const [cmd, ...argv] = this.wrap([process.execPath, CLI, "--server", this.url, ...args]);
    const env = {
      ...process.env,
      BLIXARD_DATA_DIR: this.dataDir,
      ...(existsSync(ca) ? { BLIXARD_CA_FILE: ca } : {}),
    };
    return new Promise((resolve) => {
      execFile(cmd!, argv, { encoding: "utf8", env, timeout: 300_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  }

  /** Whether the daemon process is running. */
  get alive(): boolean {
    const proc = this.proc;
    return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  }

  /** Runs the CLI and fails the test with its stderr unless it succeeds. */
  ok(...args: string[]): string {
    const res = this.cli(...args);
    if (res.code !== 0)
      throw new Error(
        `blixard ${args.join(" ")} failed (${res.code}): ${res.stderr}\n--- node log ---\n${this.log().slice(-4000)}`,
      );
    return res.stdout;
  }

  /**
   * argv as run in the node's namespace (netns-run.sh: `ip netns exec` that keeps the cgroup mounts
   * for the jail), which execs in place, so the child's pid is the command's own (killing it by pid
   * kills the node, not a wrapper).
   */
  private wrap(argv: string[]): string[] {
    return this.netns === undefined ? argv : inHostNetns(this.netns, argv);
  }

  vm(name: string): VmJson {
    return JSON.parse(this.ok("vm", "get", name, "-o", "json")) as VmJson;
  }

  vmDir(name: string): string {
    return join(this.dataDir, "vms", name);
  }

  /** Pids of live qemu processes running out of this node's data dir. */
  qemuPids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
        if (cmdline.startsWith("qemu-system") || cmdline.includes("/qemu-system")) {
          if (cmdline.includes(`${this.dataDir}/vms/`) && isAlive(Number(entry))) pids.push(Number(entry));
        }
      } catch {
        // The process exited while we looked.
      }
    }
    return pids;
  }

  log(): string {
    try {
      return readFileSync(join(this.dataDir, "node.log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Kills the daemon and every VM it started (by the pids in its launch records), then removes the data dir. */
  async destroy(): Promise<void> {
    await this.kill("SIGKILL");
    // Every driver's VM processes, by the pids in their launch records (checked to be the VM's), as the
    // node's watchdog finds them: microvm-nix runners name their files relatively, so a command-line
    // search alone misses them.
    await killNodeVms(join(this.dataDir, "vms"));
    for (const pid of this.qemuPids()) process.kill(pid, "SIGKILL");
    const etcd = this.etcdPid();
    if (etcd !== undefined) process.kill(etcd, "SIGKILL");
    const watchdog = this.watchdogPid();
    if (watchdog !== undefined) process.kill(watchdog, "SIGKILL");
    await removeJailLeftovers(join(this.dataDir, "vms"));
    rmSync(this.dataDir, { recursive: true, force: true });
    // A killed node's dnsmasq leaves its re-read files under /run; gone with their owner dir now.
    await sweepHostsDirs(HOSTS_ROOT);
  }
}

/** The node's id, from its data dir. */
export function idOf(node: TestNode): string {
  return (JSON.parse(readFileSync(join(node.dataDir, "node.json"), "utf8")) as { id: string }).id;
}

/** A cluster with managed etcd: the first node forms it, the others join through it; all get `flags`. */
export async function startCluster(size: number, flags: string[]): Promise<TestNode[]> {
  const first = await TestNode.start(["--cluster-init", ...flags], { portSpan: 3 });
  const nodes = [first];
  try {
    const token = first.joinToken();
    for (let i = 1; i < size; i++) {
      nodes.push(
        await TestNode.start(["--join", `127.0.0.1:${first.port}`, "--token", token, ...flags], {
          portSpan: 3,
        }),
      );
    }
  } catch (err) {
    for (const node of nodes) await node.destroy();
    throw err;
  }
  return nodes;
}

export interface NodeOptions {
  /** 3 leaves the two ports after the API port free for a managed etcd member. */
  portSpan?: number;
  /** The API port; a free one by default. */
  port?: number;
  /** The loopback address to bind (any 127.x.y.z works on Linux); 127.0.0.1 by default. */
  host?: string;
  /**
   * Run in this network namespace (a test host, see netns-hosts.ts; give its address as `host`): the
   * daemon, the CLI and the harness's requests all go through `ip netns exec`.
   */
  netns?: string;
  /** Extra environment for the node process. */
  env?: Record<string, string>;
}

export interface VmJson {
  name: string;
  spec: Record<string, unknown>;
  desiredState: string;
  status: {
    phase: string;
    node: string;
    pid: number | null;
    restarts: number;
    health: string;
    message: string;
    startedAt: string | null;
    lastExit: { code: number | null; signal: string | null; known: boolean } | null;
  };
}
