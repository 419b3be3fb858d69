/**
 * A managed etcd member: started by the node as a supervised child process, as k3s embeds etcd, and
 * restarted when it dies. Its data lives under the node's data dir, so a restart keeps the member.
 * A member left running by a node that was SIGKILLed is found by its pidfile and replaced.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { BlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import { clientUrl, etcdArgs, type MemberConfig } from "./etcd-args.js";

export interface ManagedEtcdOptions {
  config: MemberConfig;
  /** Directory for the pidfile and log (the member's data dir is in config). */
  runDir: string;
  binary?: string;
  logger: Logger;
  clock: Clock;
  healthTimeoutMs?: number;
  restartDelayMs?: number;
}

export class ManagedEtcd {
  private proc: ChildProcess | undefined;
  private stopping = false;
  private restartCount = 0;
  private readonly log: Logger;

  private constructor(private readonly opts: ManagedEtcdOptions) {
    this.log = opts.logger.child({ component: "managed-etcd" });
  }

  static async start(opts: ManagedEtcdOptions): Promise<ManagedEtcd> {
    const member = new ManagedEtcd(opts);
    await member.replaceLeftover();
    const { config } = opts;
    await assertPortFree(config.host, config.clientPort, "etcd client", "--etcd-client-port");
    await assertPortFree(config.host, config.peerPort, "etcd peer", "--etcd-peer-port");
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    await member.launch();
    return member;
  }

  get url(): string {
    return clientUrl(this.opts.config);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get restarts(): number {
    return this.restartCount;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const timer = this.opts.clock.setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      timer.cancel();
    }
    rmSync(this.pidFile, { force: true });
  }

  private get pidFile(): string {
    return join(this.opts.runDir, "etcd.pid");
  }

  private get logFile(): string {
    return join(this.opts.runDir, "etcd.log");
  }

  private async launch(): Promise<void> {
    const binary = this.opts.binary ?? "etcd";
    const log = openSync(this.logFile, "a", 0o600);
    const proc = spawn(binary, etcdArgs(this.opts.config), { stdio: ["ignore", log, log] });
    closeSync(log);
    const spawned = await new Promise<Error | undefined>((resolve) => {
      proc.once("spawn", () => resolve(undefined));
      proc.once("error", (err) => resolve(err));
    });
    if (spawned) {
      const missing = (spawned as NodeJS.ErrnoException).code === "ENOENT";
      throw new BlixardError(
        "FAILED_PRECONDITION",
        missing
          ? `cannot start the managed etcd member: "${binary}" is not installed; install it (Debian: apt-get install etcd-server) or use --store etcd://... for an external cluster`
          : `cannot start etcd: ${spawned.message}`,
      );
    }
    this.proc = proc;
    writeFileSync(this.pidFile, `${proc.pid}\n`, { mode: 0o600 });
    proc.once("exit", (code, signal) => void this.onExit(proc, code, signal));
    await this.awaitHealthy(proc);
    this.log.info({ pid: proc.pid, url: this.url }, "etcd member healthy");
  }

  private async awaitHealthy(proc: ChildProcess): Promise<void> {
    const deadline = this.opts.clock.now() + (this.opts.healthTimeoutMs ?? 30_000);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new BlixardError("FAILED_PRECONDITION", `etcd exited at start: ${this.logTail()}`);
      }
      if (await isHealthy(this.url)) return;
      if (this.opts.clock.now() > deadline) {
        throw new BlixardError(
          "UNAVAILABLE",
          `etcd did not become healthy at ${this.url}: ${this.logTail()}`,
        );
      }
      await this.opts.clock.sleep(200);
    }
  }

  private async onExit(proc: ChildProcess, code: number | null, signal: string | null): Promise<void> {
    if (this.stopping || proc !== this.proc) return;
    this.restartCount++;
    this.log.warn({ code, signal, restarts: this.restartCount }, "etcd member exited; restarting it");
    await this.opts.clock.sleep(this.opts.restartDelayMs ?? 1000);
    if (this.stopping) return;
    try {
      await this.launch();
    } catch (err) {
      this.log.error({ err: String(err) }, "etcd member failed to restart; will retry");
      if (this.proc === proc) void this.onExit(proc, null, null);
    }
  }

  /** Stops a member that a SIGKILLed node left behind, identified by its pidfile and its data dir. */
  private async replaceLeftover(): Promise<void> {
    if (!existsSync(this.pidFile)) return;
    const pid = Number.parseInt(readFileSync(this.pidFile, "utf8"), 10);
    const cmdline =
      pid > 0 && existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
    if (!cmdline.includes(this.opts.config.dataDir)) return;
    this.log.info({ pid }, "stopping the etcd member left by a previous node process");
    process.kill(pid, "SIGTERM");
    const deadline = this.opts.clock.now() + 10_000;
    while (existsSync(`/proc/${pid}`) && this.opts.clock.now() < deadline) await this.opts.clock.sleep(100);
    if (existsSync(`/proc/${pid}`)) process.kill(pid, "SIGKILL");
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, "utf8").trim().split("\n").slice(-3).join(" | ");
    } catch {
      return "(no log)";
    }
  }
}

async function isHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return res.ok && ((await res.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

function assertPortFree(host: string, port: number, what: string, flag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(
        new BlixardError(
          "FAILED_PRECONDITION",
          err.code === "EADDRINUSE"
            ? `the ${what} port ${host}:${port} is already in use; free it or choose another with ${flag}`
            : `cannot bind the ${what} port ${host}:${port}: ${err.message}`,
        ),
      );
    });
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
