/**
 * `blixard node`: runs the daemon in the foreground until SIGINT or SIGTERM; `node list` and
 * `node get ID` show cluster membership; `node quarantine` handles kept state dirs.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parseLabels } from "../core/node-record.js";
import { UsageError } from "./cli-error.js";
import { type GlobalOptions, nodeClient, vmClient } from "./client.js";
import { nodeJson, nodeTable, outputFormat, printData } from "./output.js";
import { registerQuarantineCommands } from "./quarantine-command.js";

interface NodeFlags {
  dataDir?: string;
  bind?: string;
  accel?: string;
  microvmNix?: string;
  isolation?: string;
  stopVmsOnExit?: boolean;
  logLevel?: string;
  gracefulStopTimeout?: string;
  label?: string[];
  leaseTtl?: string;
  store?: string;
  clusterInit?: boolean;
  join?: string;
  discover?: string;
  token?: string;
  tokenFile?: string;
  advertiseHost?: string;
  etcdClientPort?: string;
  etcdPeerPort?: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUsername?: string;
  etcdPasswordFile?: string;
  restore?: string;
  reserveVcpus?: string;
  reserveMemory?: string;
  cpuOvercommit?: string;
  memoryOvercommit?: string;
  placementStrategy?: string;
  failoverGrace?: string;
  acceptEmptyStore?: boolean;
  consoleLogMaxBytes?: string;
  maxRequestBytes?: string;
  storeCompactionInterval?: string;
  storeCompactionRetain?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
/** A number flag; its range is checked with the other options, where the error names the flag. */
const numberFlag = (value: string | undefined) => (value === undefined ? undefined : Number(value));

export function registerNodeCommand(program: Command, globals: () => GlobalOptions): void {
  const node = program
    .command("node")
    .description("run a blixard node (store, agent and API) in the foreground; `node list|get` show members")
    .option("--data-dir <dir>", "state directory (default: $BLIXARD_DATA_DIR, /var/lib/blixard as root)")
    .option(
      "--bind <host:port>",
      "API address; any non-loopback address requires the bearer token",
      "127.0.0.1:7001",
    )
    .option("--accel <mode>", "qemu acceleration: auto (KVM only when usable), kvm or tcg", "auto")
    .option(
      "--microvm-nix <mode>",
      "offer the microvm-nix driver: auto (when nix is on the PATH), on (also without nix: prebuilt runners only) or off",
      "auto",
    )
    .option(
      "--isolation <mode>",
      "strict (default: qemu jailed with its own uid, seccomp, no capabilities, cgroup limits; refuse to start if the host cannot) or none",
      "strict",
    )
    .option("--stop-vms-on-exit", "stop this node's VMs when the node exits (by default they keep running)")
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .option("--graceful-stop-timeout <seconds>", "how long a VM gets to power off before escalation", "10")
    .option("--label <key=value>", "a label for placement constraints (repeatable)", collect)
    .option(
      "--store <url>",
      "sqlite (embedded, default) or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]; etcd+https://... for TLS",
      "sqlite",
    )
    .option(
      "--lease-ttl <seconds>",
      "TTL of the node's liveness lease: NotReady this long after it dies",
      "5",
    )
    .option(
      "--cluster-init",
      "form a new cluster: run a managed etcd member (client port = API + 1, peer = API + 2)",
    )
    .option("--join <host:port>", "join the cluster of the node whose API is at HOST:PORT (needs --token)")
    .option(
      "--discover <method>",
      "find a node to join: tailscale (online peers tagged tag:blixard; needs --token)",
    )
    .option(
      "--token <token>",
      "with --join/--discover: a join token (`blixard cluster token create`); otherwise this node's API token",
    )
    .option(
      "--token-file <path>",
      "read the cluster token from a file (keeps it off the command line; the NixOS module uses this)",
    )
    .option("--advertise-host <host>", "the address other nodes reach this one at (default: the --bind host)")
    .option("--etcd-client-port <port>", "the managed etcd member's client port (default: API port + 1)")
    .option("--etcd-peer-port <port>", "the managed etcd member's peer port (default: API port + 2)")
    .option("--etcd-cacert <file>", "external etcd over TLS: the CA that signed its server certificates")
    .option("--etcd-cert <file>", "external etcd over TLS: this node's client certificate")
    .option("--etcd-key <file>", "external etcd over TLS: the client certificate's key")
    .option(
      "--etcd-username <name>",
      "external etcd: user name (password: --etcd-password-file or BLIXARD_ETCD_PASSWORD)",
    )
    .option("--etcd-password-file <file>", "external etcd: a file holding the user's password")
    .option("--reserve-vcpus <n>", "vcpus held back for the host, never given to VMs (default 0)")
    .option("--reserve-memory <mib>", "memory held back for the host, in MiB (default 512)")
    .option("--cpu-overcommit <ratio>", "vcpus of VMs per host CPU (default 4)")
    .option("--memory-overcommit <ratio>", "VM memory per MiB of host memory (default 1)")
    .option("--placement-strategy <name>", "for VMs that name none: spread (default), binpack or locality")
    .option("--failover-grace <seconds>", "how long a node may be NotReady before its VMs move (default 5)")
    .option(
      "--max-request-bytes <n>",
      "largest API request body, compressed and decompressed (default 1048576)",
    )
    .option(
      "--restore <file>",
      "seed a new node from `blixard cluster backup`: a SQLite backup, or an etcd snapshot with --cluster-init",
    )
    .option(
      "--accept-empty-store",
      "start although the store holds no VM while the data dir's vms/ holds state (they are quarantined, not deleted)",
    )
    .option(
      "--console-log-max-bytes <n>",
      "rotate each VM's console log at this size; two files kept (default 10485760 = 10 MiB)",
    )
    .option(
      "--store-compaction-interval <seconds>",
      "SQLite store: compact its revision log this often (default 60)",
    )
    .option(
      "--store-compaction-retain <revisions>",
      "SQLite store: revisions of history kept; a watch further behind re-lists (default 10000)",
    )
    .action(async (flags: NodeFlags) => {
      // --data-dir is also a global option (the CLI reads the token from it); commander gives it to the
      // program when both define it, so take it from there too.
      const dataDir = flags.dataDir ?? program.opts<{ dataDir?: string }>().dataDir;
      // Likewise --token-file, which the client commands read their API token from.
      const tokenFile = flags.tokenFile ?? program.opts<{ tokenFile?: string }>().tokenFile;
      // Loaded lazily so that client commands never pay for the daemon's imports.
      const { parseNodeOptions } = await import("../daemon/node-options.js");
      const { runNode } = await import("../daemon/run-node.js");
      const options = parseNodeOptions({
        dataDir,
        bind: flags.bind,
        accel: flags.accel,
        microvmNix: flags.microvmNix,
        isolation: flags.isolation,
        stopVmsOnExit: flags.stopVmsOnExit ?? false,
        logLevel: flags.logLevel,
        gracefulStopSeconds: numberFlag(flags.gracefulStopTimeout),
        labels: parseLabels(flags.label ?? []),
        leaseTtlSeconds: numberFlag(flags.leaseTtl),
        store: flags.store,
        clusterInit: flags.clusterInit ?? false,
        join: flags.join,
        discover: flags.discover,
        token: tokenFile === undefined ? flags.token : readTokenFile(tokenFile, flags.token),
        advertiseHost: flags.advertiseHost,
        etcdClientPort: numberFlag(flags.etcdClientPort),
        etcdPeerPort: numberFlag(flags.etcdPeerPort),
        etcdCacert: flags.etcdCacert,
        etcdCert: flags.etcdCert,
        etcdKey: flags.etcdKey,
        etcdUsername: flags.etcdUsername,
        etcdPasswordFile: flags.etcdPasswordFile,
        restore: flags.restore,
        reserveVcpus: numberFlag(flags.reserveVcpus),
        reserveMemory: numberFlag(flags.reserveMemory),
        cpuOvercommit: numberFlag(flags.cpuOvercommit),
        memoryOvercommit: numberFlag(flags.memoryOvercommit),
        placementStrategy: flags.placementStrategy,
        failoverGraceSeconds: numberFlag(flags.failoverGrace),
        acceptEmptyStore: flags.acceptEmptyStore ?? false,
        consoleLogMaxBytes: numberFlag(flags.consoleLogMaxBytes),
        maxRequestBytes: numberFlag(flags.maxRequestBytes),
        storeCompactionInterval: numberFlag(flags.storeCompactionInterval),
        storeCompactionRetain: numberFlag(flags.storeCompactionRetain),
      });
      // Listening before the node starts: a signal that arrives while it starts (its API may answer
      // already) stops it cleanly once it has started, instead of killing it with its etcd member
      // and watchdog left behind.
      let started = false;
      const signalled = new Promise<"signal">((resolve) => {
        const stop = () => {
          if (!started) process.stderr.write("stopping once started (signal again to stop at once)\n");
          resolve("signal");
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      const running = await runNode(options);
      started = true;
      process.stderr.write(
        `blixard node ${running.nodeId} serving ${running.url} (data dir ${options.dataDir})\n`,
      );
      if ((await Promise.race([signalled, running.stopped])) === "left") {
        process.stderr.write(`node ${running.nodeId} left the cluster and stopped\n`);
        return;
      }
      process.stderr.write("shutting down (VMs keep running unless --stop-vms-on-exit)\n");
      await running.shutdown();
    });

  registerQuarantineCommands(node, () => program.opts<{ dataDir?: string }>().dataDir);

  node
    .command("list")
    .alias("ls")
    .description("list the cluster's nodes")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const { nodes } = await nodeClient(globals()).listNodes({});
      await printData(format, nodes.map(nodeJson), () => nodeTable(nodes));
    });

  node
    .command("get <id>")
    .description("show one node")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (id: string, flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const { node: found } = await nodeClient(globals()).getNode({ id });
      if (!found) throw new Error(`the node returned no member for ${id}`);
      await printData(format, nodeJson(found), () => nodeTable([found]));
    });

  node
    .command("cordon <id>")
    .description("place no new VMs on the node (its VMs stay)")
    .action(async (id: string) => {
      await nodeClient(globals()).cordonNode({ id });
      process.stdout.write(`node/${id} cordoned\n`);
    });

  node
    .command("uncordon <id>")
    .description("place VMs on the node again")
    .action(async (id: string) => {
      await nodeClient(globals()).uncordonNode({ id });
      process.stdout.write(`node/${id} uncordoned\n`);
    });

  node
    .command("drain <id>")
    .description(
      "cordon the node and move each of its VMs elsewhere (stopped there, then started on another node)",
    )
    .option("--no-wait", "return once the VMs are handed over")
    .option("--timeout <seconds>", "how long to wait for the VMs to land", "300")
    .action(async (id: string, flags: { wait: boolean; timeout: string }) => {
      const { vms } = await nodeClient(globals()).drainNode({ id });
      process.stdout.write(
        `node/${id} cordoned; moving ${vms.length} VM(s)${vms.length ? `: ${vms.join(", ")}` : ""}\n`,
      );
      if (!flags.wait || vms.length === 0) return;
      const { followDrain } = await import("./drain.js");
      await followDrain(vmClient(globals()), id, vms, Number(flags.timeout));
      process.stdout.write(`node/${id} drained\n`);
    });
}

/** The token in `path`; a token given twice (--token and --token-file) is refused rather than guessed. */
function readTokenFile(path: string, given: string | undefined): string {
  if (given !== undefined)
    throw new UsageError("give the cluster token either with --token or with --token-file");
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new UsageError(
      `cannot read --token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
