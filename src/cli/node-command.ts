/**
 * `blixard node`: runs the daemon in the foreground until SIGINT or SIGTERM (node-run.ts); `node list`
 * and `node get ID` show cluster membership; `node quarantine` handles kept state dirs. Definitions
 * only: each action imports the module that does its work when it runs.
 */
import type { Command } from "commander";
import type { GlobalOptions } from "./globals.js";
import type { NodeFlags } from "./node-run.js";
import { registerQuarantineCommands } from "./quarantine-command.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];
const actions = () => import("./node-actions.js");

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
    .option(
      "--gateway-bind <host:port>",
      "the function gateway's address, or off (default 127.0.0.1:7080; beyond loopback only with TLS)",
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
    .option("--vm-cidr <cidr>", "first node: the cluster's range for bridge-mode VMs (default 10.88.0.0/16)")
    .option(
      "--service-cidr <cidr>",
      "first node: the cluster's range for service addresses (default 10.89.0.0/16)",
    )
    .option(
      "--cluster-domain <domain>",
      "first node: DNS domain of VM and group names, <vm>.vm.DOMAIN (default blixard.internal)",
    )
    .option(
      "--bridge-network <mode>",
      "on: run bridge-mode VMs (a bridge, VXLAN to the other nodes, nftables, dnsmasq; needs root, ip, nft, dnsmasq) or off",
      "off",
    )
    .option(
      "--store-compaction-interval <seconds>",
      "SQLite store: compact its revision log this often (default 60)",
    )
    .option(
      "--store-compaction-retain <revisions>",
      "SQLite store: revisions of history kept; a watch further behind re-lists (default 10000)",
    )
    .option("--ceph-conf <file>", "RBD volumes: the Ceph cluster's ceph.conf (monitors by IP address)")
    .option("--ceph-user <name>", "RBD volumes: the Ceph client, without client. (default admin)")
    .option("--ceph-keyring <file>", "RBD volumes: the keyring holding that client's key (kept 0600)")
    .option("--ceph-pool <pool>", "RBD volumes: the pool of volumes that name none (default rbd)")
    .action(async (flags: NodeFlags) => (await import("./node-run.js")).runDaemon(program, flags));

  registerQuarantineCommands(node, () => program.opts<{ dataDir?: string }>().dataDir);

  node
    .command("list")
    .alias("ls")
    .description("list the cluster's nodes")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listNodes(globals(), flags));

  node
    .command("get <id>")
    .description("show one node")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (id: string, flags: { output?: string }) =>
      (await actions()).getNode(globals(), id, flags),
    );

  node
    .command("cordon <id>")
    .description("place no new VMs on the node (its VMs stay)")
    .action(async (id: string) => (await actions()).cordonNode(globals(), id));

  node
    .command("uncordon <id>")
    .description("place VMs on the node again")
    .action(async (id: string) => (await actions()).uncordonNode(globals(), id));

  node
    .command("drain <id>")
    .description(
      "cordon the node and move each of its VMs elsewhere (stopped there, then started on another node)",
    )
    .option("--no-wait", "return once the VMs are handed over")
    .option("--timeout <seconds>", "how long to wait for the VMs to land", "300")
    .action(async (id: string, flags: { wait: boolean; timeout: string }) =>
      (await actions()).drainNode(globals(), id, flags),
    );
}
