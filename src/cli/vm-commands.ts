/**
 * `blixard vm ...`: the command definitions (flags and help). What each command does is in
 * vm-actions.ts or vm-lifecycle.ts, imported when it runs, so that defining the commands costs the
 * CLI's start-up nothing.
 */
import type { Command } from "commander";
import type { GlobalOptions } from "./globals.js";
import type { UpdateVmFlags } from "./update-actions.js";
import type { CreateVmFlags } from "./vm-actions.js";
import type { WaitFlags } from "./vm-lifecycle.js";
import type { LogsFlags } from "./vm-logs.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];
const actions = () => import("./vm-actions.js");
const lifecycle = () => import("./vm-lifecycle.js");

export function registerVmCommands(program: Command, globals: () => GlobalOptions): void {
  const vm = program.command("vm").description("manage microVMs");
  const withWait = (cmd: Command) =>
    cmd
      .option("--no-wait", "return as soon as the request is recorded")
      .option("--timeout <seconds>", "how long to wait", "300");

  withWait(
    vm
      .command("create <name>")
      .description("create a VM (and start it with --start)")
      .option("-f, --file <path>", "spec file (.toml, .yaml, .yml or .json)")
      .option("--vcpus <n>", "virtual CPUs")
      .option("--memory <mib>", "memory in MiB")
      .option("--kernel <path>", "kernel image (default: the node's default guest image)")
      .option("--initrd <path>", "initrd image")
      .option("--disk <path>", "base disk image (the VM writes to an overlay)")
      .option("--cmdline <string>", "extra kernel command line")
      .option("--forward <host:guest>", "forward a host port to a guest port (repeatable)", collect)
      .option("--restart <policy>", "restart policy: always, on-failure or never")
      .option(
        "--constraint <key=value>",
        "run only on nodes whose label matches; KEY!=VALUE excludes (repeatable)",
        collect,
      )
      .option(
        "--strategy <name>",
        "placement: binpack (fill nodes), spread (balance) or locality (image already there)",
      )
      .option("--node <id>", "run on this node only")
      .option("--driver <name>", "qemu (default) or microvm-nix")
      .option("--network <mode>", "user (default: ports forwarded on the node) or bridge (a cluster address)")
      .option(
        "--flake <ref>",
        "microvm-nix: build nixosConfigurations.NAME of this flake, e.g. path:/srv/vms#web",
      )
      .option(
        "--runner <dir>",
        "microvm-nix: run this built runner (bin/microvm-run) instead of building one",
      )
      .option("--hypervisor <name>", "microvm-nix: qemu (default), cloud-hypervisor or firecracker")
      .option("--nixos-module <file>", "microvm-nix: a NixOS module to import (repeatable)", collect)
      .option(
        "--nixos-config <nix>",
        "microvm-nix: inline NixOS configuration, e.g. 'services.nginx.enable = true;'",
      )
      .option(
        "--share <spec>",
        "microvm-nix: source=HOST_DIR,mount=GUEST_DIR[,tag=T][,proto=virtiofs] (repeatable)",
        collect,
      )
      .option(
        "--volume <spec>",
        "attach a volume: NAME, NAME:ro (shared read-only), NAME:boot (root disk); microvm-nix: image=FILE,mount=GUEST_DIR,size=MIB[,fs=ext4] declares a runner volume (repeatable)",
        collect,
      )
      .option(
        "--interface <spec>",
        "microvm-nix: type=tap|macvtap|bridge|user,id=IF,mac=MAC[,bridge=BR][,link=L,mode=M] (repeatable)",
        collect,
      )
      .option("--replicas <n>", "create a group of N copies, NAME-1 … NAME-N, never two on one node")
      .option("--start", "start the VM after creating it"),
  ).action(async (name: string, flags: CreateVmFlags) => (await actions()).createVm(globals(), name, flags));

  withWait(
    vm
      .command("update <name>")
      .description(
        "change a VM's spec; fields without a flag keep their values; restarts the VM when the change needs it",
      )
      .option("--vcpus <n>", "virtual CPUs")
      .option("--memory <mib>", "memory in MiB")
      .option("--kernel <path>", "kernel image")
      .option("--initrd <path>", "initrd image")
      .option("--cmdline <string>", "extra kernel command line")
      .option("--forward <host:guest>", "the VM's port forwards: replaces them all (repeatable)", collect)
      .option("--restart <policy>", "restart policy: always, on-failure or never (applied without a restart)")
      .option("--dry-run", "show what would change, change nothing")
      .option("-o, --output <format>", "table, json or yaml"),
  ).action(async (name: string, flags: UpdateVmFlags) =>
    (await import("./update-actions.js")).updateVm(globals(), name, flags),
  );

  vm.command("scale <group> <replicas>")
    .description("grow a replica group with copies of its spec, or shrink it from the highest number down")
    .action(async (group: string, count: string) => (await actions()).scaleVmGroup(globals(), group, count));

  withWait(vm.command("start <name>").description("start a VM")).action(
    async (name: string, flags: WaitFlags) => (await lifecycle()).startVm(globals(), name, flags),
  );

  withWait(vm.command("stop <name>").description("stop a VM (graceful, then forced)")).action(
    async (name: string, flags: WaitFlags) => (await lifecycle()).stopVm(globals(), name, flags),
  );

  withWait(vm.command("restart <name>").description("restart a VM")).action(
    async (name: string, flags: WaitFlags) => (await lifecycle()).restartVm(globals(), name, flags),
  );

  withWait(vm.command("delete <name>").description("stop a VM and delete it with its state")).action(
    async (name: string, flags: WaitFlags) => (await lifecycle()).deleteVm(globals(), name, flags),
  );

  vm.command("list")
    .alias("ls")
    .description("list VMs")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listVms(globals(), flags));

  vm.command("get <name>")
    .alias("status")
    .description("show one VM")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: { output?: string }) =>
      (await actions()).getVm(globals(), name, flags),
    );

  vm.command("logs <name>")
    .description(
      "print the VM's serial console (the last 100 lines by default); control characters and escape sequences are stripped on a terminal",
    )
    .option("-f, --follow", "keep printing new output (continues across log rotations)")
    .option("--tail <n>", "only the last N lines, or `all` for the whole retained log", "100")
    .option("--raw", "print the guest's bytes as they are, escape sequences included, even on a terminal")
    .action(async (name: string, flags: LogsFlags) =>
      (await import("./vm-logs.js")).vmLogs(globals(), name, flags),
    );
}
