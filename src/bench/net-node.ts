/**
 * A blixard node inside a test host's network namespace (src/testing/netns-hosts.ts) for the
 * cross-host network benchmark: its own data dir, bound to the host's underlay address, run through
 * netns-run.sh so it can jail its VMs; its CLI runs in the same namespace. Killed by pid, and its
 * VMs' jail leftovers removed by their data dir, never by a pattern.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killNodeVms } from "../daemon/watchdog/kill-vms.js";
import { removeJailLeftovers } from "../drivers/jail/leftovers.js";
import { freePortRun } from "../store/etcd/free-ports.js";
import { inHostNetns, type NetnsHost } from "../testing/netns-hosts.js";
import { CLI, waitFor } from "./bench-node.js";

export class NetNode {
  readonly dataDir = mkdtempSync(join(tmpdir(), "blixard-bench-net-"));
  port = 0;
  private proc: ChildProcess | undefined;
  private args: string[] = [];

  constructor(readonly host: NetnsHost) {}

  get url(): string {
    const tls = existsSync(join(this.dataDir, "pki", "ca.crt"));
    return `${tls ? "https" : "http"}://${this.host.address}:${this.port}`;
  }

  get id(): string {
    return (JSON.parse(readFileSync(join(this.dataDir, "node.json"), "utf8")) as { id: string }).id;
  }

  joinToken(): string {
    return readFileSync(join(this.dataDir, "join-token"), "utf8").trim();
  }

  /** Starts the node, or restarts it on the same data dir, port and flags when `extraArgs` is omitted. */
  async start(extraArgs: string[] = this.args): Promise<void> {
    this.args = extraArgs;
    // A port span of 3: the API and the managed etcd member's client and peer ports.
    this.port ||= await freePortRun(3);
    const log = openSync(join(this.dataDir, "node.log"), "a");
    const bind = `${this.host.address}:${this.port}`;
    const [cmd, ...args] = inHostNetns(this.host.netns, [
      ...[process.execPath, CLI, "node", "--data-dir", this.dataDir, "--bind", bind],
      ...["--log-level", "warn", ...extraArgs],
    ]);
    this.proc = spawn(cmd!, args, { stdio: ["ignore", log, log] });
    closeSync(log);
    const proc = this.proc;
    await waitFor(
      `the node on ${this.host.netns}`,
      () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(
            `node exited: ${readFileSync(join(this.dataDir, "node.log"), "utf8").slice(-2000)}`,
          );
        return this.try("node", "list").code === 0;
      },
      180_000,
    );
  }

  /** The CLI in the node's namespace, against this node. */
  try(...args: string[]): { code: number; stdout: string; stderr: string } {
    const ca = join(this.dataDir, "pki", "ca.crt");
    const [cmd, ...argv] = inHostNetns(this.host.netns, [
      process.execPath,
      CLI,
      "--server",
      this.url,
      ...args,
    ]);
    const res = spawnSync(cmd!, argv, {
      encoding: "utf8",
      timeout: 120_000,
      env: {
        ...process.env,
        BLIXARD_DATA_DIR: this.dataDir,
        ...(existsSync(ca) ? { BLIXARD_CA_FILE: ca } : {}),
      },
    });
    return { code: res.status ?? -1, stdout: res.stdout ?? "", stderr: res.stderr ?? "" };
  }

  cli(...args: string[]): string {
    const res = this.try(...args);
    if (res.code !== 0) throw new Error(`blixard ${args.join(" ")} failed: ${res.stderr}`);
    return res.stdout;
  }

  /** SIGKILLs the node process only (a lost host's daemon), and waits for it to die. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await exited;
  }

  /**
   * Kills the node, then its VMs (by their pidfiles), and removes the jail's cgroups and uid claims
   * and the data dir. The etcd member, dnsmasq and anything else left in the host's namespace go with
   * NetnsHosts.destroy() (by pid, from `ip netns pids`).
   */
  /** Kills the qemu processes of this node's VMs, by their pidfiles (a lost host's leftovers). */
  async killVms(): Promise<void> {
    await killNodeVms(join(this.dataDir, "vms"));
  }

  async stop(): Promise<void> {
    await this.kill();
    const vms = join(this.dataDir, "vms");
    await this.killVms();
    await removeJailLeftovers(vms);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
