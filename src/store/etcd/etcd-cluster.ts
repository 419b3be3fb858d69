/**
 * A real etcd cluster of N members on loopback, run from the etcd binary: for integration tests and
 * for trying cluster mode on one machine. Members get free ports and data dirs under one base dir;
 * they can be stopped (by pid) and restarted with their data, and destroy() removes everything.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlixardError, errorMessage } from "../../core/errors.js";
import { type EtcdMemberConfig, EtcdMemberProcess } from "./etcd-member.js";
import { EtcdStore } from "./etcd-store.js";
import { freePorts } from "./free-ports.js";

export interface LocalEtcdClusterOptions {
  /** Number of members; 3 by default. */
  size?: number;
  /** The etcd executable; "etcd" on the PATH by default. */
  binary?: string;
  /** How long start() and waitHealthy() wait for the members to serve; 30 s by default. */
  readyTimeoutMs?: number;
  /** Further flags for every member. */
  extraArgs?: readonly string[];
}

interface Member {
  config: EtcdMemberConfig;
  process: EtcdMemberProcess | undefined;
}

export class LocalEtcdCluster {
  private constructor(
    readonly baseDir: string,
    private readonly members: Member[],
    private readonly readyTimeoutMs: number,
  ) {}

  static async start(options: LocalEtcdClusterOptions = {}): Promise<LocalEtcdCluster> {
    const size = options.size ?? 3;
    const baseDir = await mkdtemp(join(tmpdir(), "blixard-etcd-"));
    const ports = await freePorts(2 * size);
    const names = Array.from({ length: size }, (_, i) => `member-${i}`);
    const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
    const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(",");
    const members: Member[] = names.map((name, i) => ({
      config: {
        name,
        dataDir: join(baseDir, name),
        clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
        peerUrl: peerUrl(i),
        initialCluster,
        initialClusterState: "new",
        initialClusterToken: `blixard-test-${ports[0]}`,
        logFile: join(baseDir, `${name}.log`),
        ...(options.binary === undefined ? {} : { binary: options.binary }),
        ...(options.extraArgs === undefined ? {} : { extraArgs: options.extraArgs }),
      },
      process: undefined,
    }));
    const cluster = new LocalEtcdCluster(baseDir, members, options.readyTimeoutMs ?? 30_000);
    try {
      for (const member of members) member.process = await EtcdMemberProcess.start(member.config);
      await cluster.waitHealthy();
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** The client URLs of all members, running or not. */
  get endpoints(): string[] {
    return this.members.map((member) => member.config.clientUrl);
  }

  get size(): number {
    return this.members.length;
  }

  endpoint(index: number): string {
    return this.member(index).config.clientUrl;
  }

  pid(index: number): number | undefined {
    const process = this.member(index).process;
    return process?.running ? process.pid : undefined;
  }

  /** Stops one member by its pid: SIGKILL simulates a crash, SIGTERM a clean shutdown. */
  async stopMember(index: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const member = this.member(index);
    await member.process?.stop(signal);
    member.process = undefined;
  }

  /** Starts a stopped member again on its old ports and data dir; it rejoins and catches up. */
  async restartMember(index: number): Promise<void> {
    const member = this.member(index);
    if (member.process?.running) return;
    member.process = await EtcdMemberProcess.start(member.config);
  }

  /** Waits until every running member serves a linearizable read, which needs a leader and a quorum. */
  async waitHealthy(): Promise<void> {
    const running = this.members.filter((member) => member.process?.running);
    await Promise.all(running.map((member) => this.waitServing(member)));
  }

  /** Kills every member by pid and removes the data dirs and logs. */
  async destroy(): Promise<void> {
    await Promise.all(this.members.map((member) => member.process?.stop("SIGKILL")));
    for (const member of this.members) member.process = undefined;
    await rm(this.baseDir, { recursive: true, force: true });
  }

  private member(index: number): Member {
    const member = this.members[index];
    if (member === undefined)
      throw new RangeError(`no member ${index} in a cluster of ${this.members.length}`);
    return member;
  }

  private async waitServing(member: Member): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (!member.process?.running) break;
      try {
        const store = await EtcdStore.connect({ endpoints: [member.config.clientUrl], dialTimeoutMs: 2_000 });
        await store.close();
        return;
      } catch (err) {
        lastError = err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const log = await readFile(member.config.logFile, "utf8").catch(() => "");
    const tail = log.trimEnd().split("\n").slice(-5).join("\n");
    throw new BlixardError(
      "UNAVAILABLE",
      `etcd member ${member.config.name} did not become healthy within ${this.readyTimeoutMs} ms ` +
        `(${member.process?.running ? errorMessage(lastError) : "it exited"}); its log ` +
        `${member.config.logFile} ends with:\n${tail}`,
      { cause: lastError },
    );
  }
}
