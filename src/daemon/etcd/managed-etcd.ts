/**
 * A managed etcd member: started by the node as a supervised child process, as k3s embeds etcd, and
 * restarted when it dies. Its data lives under the node's data dir, so a restart keeps the member.
 * A member left running by a node that was SIGKILLed is found by its pidfile and replaced.
 * The process itself (argv, log file, stop by pid) is store/etcd/etcd-member.ts.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { BlixardError } from "../../core/errors.js";
import { type HttpsTls, httpsRequest } from "../../pki/https-request.js";
import type { Clock } from "../../ports/clock.js";
import type { Logger } from "../../ports/logger.js";
import { EtcdMemberProcess } from "../../store/etcd/etcd-member.js";
import { clientUrl, type MemberConfig, memberProcessConfig } from "./etcd-args.js";

export interface ManagedEtcdOptions {
  config: MemberConfig;
  /** Directory for the pidfile and log (the member's data dir is in config). */
  runDir: string;
  binary?: string;
  logger: Logger;
  clock: Clock;
  /** How long start() waits for the member to be healthy (it needs a quorum); 30 s by default. */
  healthTimeoutMs?: number;
  /** Called every 10 s while start() waits, e.g. for the other members of a restarting cluster. */
  onWaiting?: (waitedMs: number) => void;
  restartDelayMs?: number;
}

export class ManagedEtcd {
  private proc: EtcdMemberProcess | undefined;
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
    try {
      await member.launch(opts.healthTimeoutMs ?? 30_000);
    } catch (err) {
      await member.stop();
      throw err;
    }
    return member;
  }

  get url(): string {
    return clientUrl(this.opts.config);
  }

  get pid(): number | undefined {
    return this.proc?.running ? this.proc.pid : undefined;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** Stops the member (SIGTERM, then SIGKILL after 10 s) and no longer restarts it. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.proc?.stop("SIGTERM", 10_000);
    rmSync(this.pidFile, { force: true });
  }

  private get pidFile(): string {
    return join(this.opts.runDir, "etcd.pid");
  }

  private get logFile(): string {
    return join(this.opts.runDir, "etcd.log");
  }

  private async launch(healthTimeoutMs: number): Promise<void> {
    const proc = await EtcdMemberProcess.start(
      memberProcessConfig(this.opts.config, this.opts.runDir, this.opts.binary),
    );
    this.proc = proc;
    writeFileSync(this.pidFile, `${proc.pid}\n`, { mode: 0o600 });
    void proc.exited.then(({ code, signal }) => this.onExit(proc, code, signal));
    await this.awaitHealthy(proc, healthTimeoutMs);
    this.log.info({ pid: proc.pid, url: this.url }, "etcd member healthy");
  }

  private async awaitHealthy(proc: EtcdMemberProcess, timeoutMs: number): Promise<void> {
    const started = this.opts.clock.now();
    let reported = started;
    for (;;) {
      if (!proc.running) {
        throw new BlixardError("FAILED_PRECONDITION", `etcd exited at start: ${this.logTail()}`);
      }
      if (this.stopping) throw new BlixardError("UNAVAILABLE", "the node is stopping");
      if (await isHealthy(this.url, this.healthTls())) return;
      const now = this.opts.clock.now();
      if (now - started > timeoutMs) {
        throw new BlixardError(
          "UNAVAILABLE",
          `etcd did not become healthy at ${this.url} within ${Math.round(timeoutMs / 1000)} s ` +
            `(it needs a majority of the cluster's members): ${this.logTail()}`,
        );
      }
      if (now - reported >= 10_000) {
        reported = now;
        this.opts.onWaiting?.(now - started);
      }
      await this.opts.clock.sleep(200);
    }
  }

  private async onExit(proc: EtcdMemberProcess, code: number | null, signal: string | null): Promise<void> {
    if (this.stopping || proc !== this.proc) return;
    this.restartCount++;
    this.log.warn({ code, signal, restarts: this.restartCount }, "etcd member exited; restarting it");
    for (;;) {
      await this.opts.clock.sleep(this.opts.restartDelayMs ?? 1000);
      if (this.stopping) return;
      try {
        // A restarted member of a healthy cluster catches up quickly; without a quorum it keeps waiting.
        await this.launch(Number.POSITIVE_INFINITY);
        return;
      } catch (err) {
        if (this.stopping) return;
        this.log.error({ err: String(err) }, "etcd member failed to restart; will retry");
        if (this.proc?.running) return; // it runs; a later exit restarts it again
      }
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

  /** The member checks client certificates on /health too: the node presents its own. */
  private healthTls(): HttpsTls {
    const { tls } = this.opts.config;
    return {
      caPem: readFileSync(tls.caFile, "utf8"),
      certPem: readFileSync(tls.certFile, "utf8"),
      keyPem: readFileSync(tls.keyFile, "utf8"),
    };
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, "utf8").trim().split("\n").slice(-3).join(" | ");
    } catch {
      return "(no log)";
    }
  }
}

async function isHealthy(url: string, tls: HttpsTls): Promise<boolean> {
  try {
    const res = await httpsRequest(`${url}/health`, tls, { timeoutMs: 1000 });
    return res.status === 200 && (JSON.parse(res.body) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

export function assertPortFree(host: string, port: number, what: string, flag: string): Promise<void> {
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
