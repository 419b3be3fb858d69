/** `blixard node`: runs the daemon in the foreground until SIGINT or SIGTERM. */
import type { Command } from "commander";

interface NodeFlags {
  dataDir?: string;
  bind?: string;
  accel?: string;
  stopVmsOnExit?: boolean;
  logLevel?: string;
  gracefulStopTimeout?: string;
}

export function registerNodeCommand(program: Command): void {
  program
    .command("node")
    .description("run a blixard node (store, agent and API) in the foreground")
    .option("--data-dir <dir>", "state directory (default: $BLIXARD_DATA_DIR, /var/lib/blixard as root)")
    .option(
      "--bind <host:port>",
      "API address; any non-loopback address requires the bearer token",
      "127.0.0.1:7001",
    )
    .option("--accel <mode>", "qemu acceleration: auto (KVM only when usable), kvm or tcg", "auto")
    .option("--stop-vms-on-exit", "stop this node's VMs when the node exits (by default they keep running)")
    .option("--log-level <level>", "debug, info, warn or error", "info")
    .option("--graceful-stop-timeout <seconds>", "how long a VM gets to power off before escalation", "10")
    .action(async (flags: NodeFlags) => {
      // --data-dir is also a global option (the CLI reads the token from it); commander gives it to the
      // program when both define it, so take it from there too.
      const dataDir = flags.dataDir ?? program.opts<{ dataDir?: string }>().dataDir;
      // Loaded lazily so that client commands never pay for the daemon's imports.
      const { parseNodeOptions } = await import("../daemon/node-options.js");
      const { runNode } = await import("../daemon/run-node.js");
      const options = parseNodeOptions({
        dataDir,
        bind: flags.bind,
        accel: flags.accel,
        stopVmsOnExit: flags.stopVmsOnExit ?? false,
        logLevel: flags.logLevel,
        gracefulStopSeconds:
          flags.gracefulStopTimeout === undefined ? undefined : Number(flags.gracefulStopTimeout),
      });
      const node = await runNode(options);
      process.stderr.write(`blixard node ${node.nodeId} serving ${node.url} (data dir ${options.dataDir})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      process.stderr.write("shutting down (VMs keep running unless --stop-vms-on-exit)\n");
      await node.shutdown();
    });
}
