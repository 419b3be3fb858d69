/**
 * The node's dnsmasq as a supervised child: started in the foreground with the config from
 * dnsmasq-config.ts, restarted with backoff when it exits, told to re-read its data files with SIGHUP
 * after they were replaced atomically, and stopped by its pid. A restarted node starts a new one; an
 * older dnsmasq still bound to the bridge (the node was killed) is stopped first, by the pid in its
 * pid file, and only when that pid is still a dnsmasq.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, chown, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BlixardError } from "../core/errors.js";
import type { Clock } from "../ports/clock.js";
import type { Logger } from "../ports/logger.js";
import {
  CONFIG_FILE,
  DHCP_HOSTS_FILE,
  type DhcpHost,
  type DnsmasqSettings,
  dhcpHostsFile,
  dnsmasqConfig,
  HOSTS_FILE,
  type HostName,
  hostsFile,
} from "./dnsmasq-config.js";
import { OWNER_FILE, sweepHostsDirs } from "./dnsmasq-leftovers.js";
import { HostTools } from "./host-tools.js";

export interface DnsmasqProcessOptions {
  settings: DnsmasqSettings;
  clock: Clock;
  logger: Logger;
  /** Where dnsmasq runs (a test's namespace); the node's own when unset. */
  tools?: HostTools;
  binary?: string;
}

const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 10_000;
/** A run this long counts as healthy: the next failure starts the backoff from the beginning again. */
const HEALTHY_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const READY_TIMEOUT_MS = 10_000;

/** Where the data files go by default: a directory of their own that dnsmasq's user can reach. */
export const HOSTS_ROOT = "/run/blixard-dnsmasq";

async function writeAtomically(file: string, text: string, gid?: number): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  if (gid !== undefined) {
    // Readable by dnsmasq's group (it re-reads as that unprivileged user), not by other local users.
    await chown(tmp, 0, gid);
    await chmod(tmp, 0o640);
  } else {
    await chmod(tmp, 0o644);
  }
  await rename(tmp, file);
}

/** The gid of a group in /etc/group, or undefined. */
async function groupId(name: string): Promise<number | undefined> {
  const text = await readFile("/etc/group", "utf8").catch(() => "");
  const line = text.split("\n").find((l) => l.startsWith(`${name}:`));
  const gid = Number(line?.split(":")[2]);
  return Number.isInteger(gid) ? gid : undefined;
}

export class DnsmasqProcess {
  private readonly tools: HostTools;
  private readonly binary: string;
  private readonly log: Logger;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private backoffMs = BACKOFF_FIRST_MS;
  private restarts = 0;
  private restartTimer: { cancel(): void } | undefined;
  /** dnsmasq's group, which reads the data files. */
  private gid: number | undefined;

  private readonly settings: DnsmasqSettings & { hostsDir: string };

  constructor(private readonly opts: DnsmasqProcessOptions) {
    this.tools = opts.tools ?? new HostTools();
    this.binary = opts.binary ?? "dnsmasq";
    this.log = opts.logger.child({ component: "dnsmasq" });
    // One directory per dnsmasq config dir, so that two nodes on one host (tests) never share one.
    const id = createHash("sha256").update(opts.settings.dir).digest("hex").slice(0, 16);
    this.settings = { ...opts.settings, hostsDir: opts.settings.hostsDir ?? join(HOSTS_ROOT, id) };
    // Checked here, so that a bad setting fails the node's start, not a background restart.
    dnsmasqConfig(this.settings);
  }

  get dir(): string {
    return this.settings.dir;
  }

  /** Where the DHCP hosts and the names are (re-read by dnsmasq as its unprivileged user). */
  get hostsDir(): string {
    return this.settings.hostsDir;
  }

  /** The running dnsmasq's pid, if any. */
  get pid(): number | undefined {
    const child = this.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** How many times it was restarted after exiting on its own. */
  get restartCount(): number {
    return this.restarts;
  }

  async start(): Promise<void> {
    this.stopping = false;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeAtomically(join(this.dir, CONFIG_FILE), dnsmasqConfig(this.settings));
    const swept = await sweepHostsDirs(HOSTS_ROOT);
    if (swept.length > 0) this.log.info({ swept }, "removed dnsmasq files of nodes whose data dir is gone");
    await this.prepareHostsDir();
    for (const file of [DHCP_HOSTS_FILE, HOSTS_FILE]) {
      await readFile(join(this.hostsDir, file)).catch(() =>
        writeAtomically(join(this.hostsDir, file), "", this.gid),
      );
    }
    await this.stopStale();
    try {
      await this.spawnOnce();
    } catch (err) {
      // A dnsmasq that cannot start at all (bad config, port taken) fails the caller, not a retry loop.
      await this.stop();
      throw err;
    }
  }

  /** Replaces the leases and names, then has dnsmasq re-read them. */
  async writeHosts(dhcpHosts: DhcpHost[], names: HostName[]): Promise<void> {
    await this.prepareHostsDir();
    await writeAtomically(join(this.hostsDir, DHCP_HOSTS_FILE), dhcpHostsFile(dhcpHosts), this.gid);
    await writeAtomically(join(this.hostsDir, HOSTS_FILE), hostsFile(names), this.gid);
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, "SIGHUP");
  }

  /** Stops dnsmasq by its pid and waits for it; no restart follows. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.restartTimer?.cancel();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = this.opts.clock.setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await this.exited;
    timer.cancel();
  }

  /** Deletes the data files' directory (the node leaves the overlay for good, or a test ends). */
  async removeFiles(): Promise<void> {
    await rm(this.hostsDir, { recursive: true, force: true });
  }

  /**
   * The data files' directory: root's, open to dnsmasq's group only (0750), under a root that only
   * root writes; dnsmasq's own directory (in the node's data dir) is closed to its user.
   */
  private async prepareHostsDir(): Promise<void> {
    this.gid ??= await groupId(this.settings.group ?? "nogroup");
    if (this.hostsDir.startsWith(`${HOSTS_ROOT}/`)) {
      await mkdir(HOSTS_ROOT, { recursive: true, mode: 0o755 });
      await chmod(HOSTS_ROOT, 0o755);
    }
    await mkdir(this.hostsDir, { recursive: true, mode: 0o750 });
    if (this.gid !== undefined) await chown(this.hostsDir, 0, this.gid);
    await chmod(this.hostsDir, this.gid !== undefined ? 0o750 : 0o755);
    await writeAtomically(join(this.hostsDir, OWNER_FILE), `${this.dir}\n`, this.gid);
  }

  private async spawnOnce(): Promise<void> {
    const args = ["--keep-in-foreground", `--conf-file=${join(this.dir, CONFIG_FILE)}`];
    const [program, ...argv] = this.tools.command(this.binary, args) as [string, ...string[]];
    const child = spawn(program, argv, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2_000);
    });
    const startedAt = this.opts.clock.now();
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        resolve();
        if (this.stopping || this.child !== child) return;
        const ran = this.opts.clock.now() - startedAt;
        if (ran >= HEALTHY_MS) this.backoffMs = BACKOFF_FIRST_MS;
        this.log.warn(
          { code, signal, ranMs: ran, stderr: stderr.trim(), retryMs: this.backoffMs },
          "dnsmasq exited; restarting",
        );
        this.restartTimer = this.opts.clock.setTimeout(() => {
          this.restarts += 1;
          this.spawnOnce().catch((err: unknown) => this.log.error({ err }, "could not restart dnsmasq"));
        }, this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (err) => {
        this.stopping = true;
        reject(
          new BlixardError(
            "DRIVER_FAILED",
            `cannot run ${this.binary}: ${err.message}; install dnsmasq-base`,
            { cause: err },
          ),
        );
      });
    });
    try {
      await this.waitReady(child, () => stderr);
    } catch (err) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      throw err;
    }
    this.log.info({ pid: child.pid, dir: this.dir }, "dnsmasq started");
  }

  /**
   * Until dnsmasq has written its pid file, it may not have its signal handlers yet, and a SIGHUP
   * from writeHosts would end it: wait for the file to name this child.
   */
  private async waitReady(child: ChildProcess, stderr: () => string): Promise<void> {
    const pidFile = join(this.dir, "dnsmasq.pid");
    for (let waited = 0; waited < READY_TIMEOUT_MS; waited += 50) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new BlixardError(
          "DRIVER_FAILED",
          `dnsmasq exited at start: ${stderr().trim() || `code ${child.exitCode}`}; see ${join(this.dir, "dnsmasq.log")}`,
        );
      }
      const text = await readFile(pidFile, "utf8").catch(() => "");
      if (Number(text.trim()) === child.pid) return;
      await this.opts.clock.sleep(50);
    }
    throw new BlixardError("DRIVER_FAILED", `dnsmasq did not write ${pidFile} within ${READY_TIMEOUT_MS} ms`);
  }

  /** A dnsmasq left by a killed node still holds the bridge's ports: stop it, if it is one. */
  private async stopStale(): Promise<void> {
    const text = await readFile(join(this.dir, "dnsmasq.pid"), "utf8").catch(() => "");
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    const comm = await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
    if (comm.trim() !== "dnsmasq") return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.includes(join(this.dir, CONFIG_FILE))) return;
    this.log.warn({ pid }, "stopping a dnsmasq left by an earlier run");
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 50 && (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")) !== ""; i++) {
      await this.opts.clock.sleep(100);
    }
  }
}
