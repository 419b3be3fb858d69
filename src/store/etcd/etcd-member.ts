/**
 * One etcd member as a child process: the command line for it, starting it with its output in a log
 * file, and stopping it by pid. Test clusters use it (etcd-cluster.ts), and the daemon's supervisor of
 * its managed member (daemon/etcd/managed-etcd.ts) wraps it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { BlixardError, errorMessage } from "../../core/errors.js";

export interface EtcdMemberConfig {
  /** The member's name, unique in the cluster; `initialCluster` refers to it. */
  name: string;
  dataDir: string;
  /** Where clients connect, e.g. http://127.0.0.1:2379; listened on and advertised. */
  clientUrl: string;
  /** Where the other members connect, e.g. http://127.0.0.1:2380; listened on and advertised. */
  peerUrl: string;
  /** Every member as name=peerUrl, comma-separated; read only when the data dir is new. */
  initialCluster: string;
  /** "new" to bootstrap a cluster; "existing" for a member just added with MemberAdd. */
  initialClusterState: "new" | "existing";
  /** Keeps members of different clusters from joining each other by mistake. */
  initialClusterToken: string;
  /** Where etcd's own log goes (appended). */
  logFile: string;
  /** The etcd executable; "etcd" on the PATH by default. */
  binary?: string;
  /** Further flags, e.g. --auto-compaction-retention=1h or TLS settings. */
  extraArgs?: readonly string[];
}

export function etcdMemberArgs(config: EtcdMemberConfig): string[] {
  return [
    `--name=${config.name}`,
    `--data-dir=${config.dataDir}`,
    `--listen-client-urls=${config.clientUrl}`,
    `--advertise-client-urls=${config.clientUrl}`,
    `--listen-peer-urls=${config.peerUrl}`,
    `--initial-advertise-peer-urls=${config.peerUrl}`,
    `--initial-cluster=${config.initialCluster}`,
    `--initial-cluster-state=${config.initialClusterState}`,
    `--initial-cluster-token=${config.initialClusterToken}`,
    "--logger=zap",
    "--log-outputs=stderr",
    ...(config.extraArgs ?? []),
  ];
}

export interface MemberExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class EtcdMemberProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    /** Settles when the process has exited, however that happened. */
    readonly exited: Promise<MemberExit>,
  ) {}

  static async start(config: EtcdMemberConfig): Promise<EtcdMemberProcess> {
    const binary = config.binary ?? "etcd";
    const log = openSync(config.logFile, "a", 0o600);
    let child: ChildProcess;
    try {
      child = spawn(binary, etcdMemberArgs(config), { stdio: ["ignore", log, log] });
    } finally {
      closeSync(log);
    }
    const exited = new Promise<MemberExit>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", (err) => {
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        reject(
          new BlixardError(
            missing ? "FAILED_PRECONDITION" : "UNAVAILABLE",
            missing
              ? `cannot start etcd member ${config.name}: "${binary}" is not installed; install it ` +
                  "(Debian: apt-get install etcd-server) or give the path of its binary"
              : `cannot start etcd member ${config.name} with ${binary}: ${errorMessage(err)}`,
            { cause: err },
          ),
        );
      });
    });
    return new EtcdMemberProcess(child, child.pid!, exited);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Signals the process by its pid and waits for it to exit. SIGTERM lets etcd shut down cleanly;
   * if it has not exited after `graceMs`, SIGKILL follows.
   */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<MemberExit> {
    if (!this.running) return this.exited;
    this.signal(signal);
    if (signal === "SIGKILL") return this.exited;
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<"overdue">((resolve) => {
      timer = setTimeout(() => resolve("overdue"), graceMs);
    });
    const first = await Promise.race([this.exited, overdue]);
    clearTimeout(timer);
    if (first !== "overdue") return first;
    this.signal("SIGKILL");
    return this.exited;
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      // Exited between the check and the signal: the exit event is on its way.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
}
