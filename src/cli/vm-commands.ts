/** `blixard vm ...`: thin calls to the VmService, with waits and output formatting. */
import type { Command } from "commander";
import { UsageError } from "./cli-error.js";
import { type GlobalOptions, vmClient } from "./client.js";
import { outputFormat, printData, vmDetail, vmJson, vmTable } from "./output.js";
import type { CreateFlags } from "./spec-input.js";
import { consoleOutput } from "./terminal-safe.js";
import { gone, ready, stopped, waitFor } from "./wait.js";

interface WaitFlags {
  wait: boolean;
  timeout: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerVmCommands(program: Command, globals: () => GlobalOptions): void {
  const vm = program.command("vm").description("manage microVMs");
  const client = () => vmClient(globals());
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
        "microvm-nix: image=FILE,mount=GUEST_DIR,size=MIB[,fs=ext4] (repeatable)",
        collect,
      )
      .option(
        "--interface <spec>",
        "microvm-nix: type=tap|macvtap|bridge|user,id=IF,mac=MAC[,bridge=BR][,link=L,mode=M] (repeatable)",
        collect,
      )
      .option("--replicas <n>", "create a group of N copies, NAME-1 … NAME-N, never two on one node")
      .option("--start", "start the VM after creating it"),
  ).action(async (name: string, flags: CreateFlags & WaitFlags & { start?: boolean; replicas?: string }) => {
    // Spec parsing (TOML, YAML) is loaded only by `vm create`.
    const { buildSpec } = await import("./spec-input.js");
    const spec = buildSpec(name, flags);
    const replicas = flags.replicas === undefined ? 0 : replicaCount(flags.replicas);
    if (flags.replicas !== undefined && replicas === 0) {
      throw new UsageError("--replicas must be at least 1 (leave it out for a single VM)");
    }
    const res = await client().createVm({ spec, start: flags.start ?? false, replicas });
    if (!res.vm) throw new Error("the node returned no VM");
    const names = replicas > 0 ? res.replicas.map((vm) => vm.name) : [name];
    for (const created of names) process.stdout.write(`vm/${created} created\n`);
    if (flags.start && flags.wait) {
      for (const created of names) {
        await waitFor(client(), created, "ready", ready(), Number(flags.timeout));
        process.stdout.write(`vm/${created} running\n`);
      }
    }
  });

  vm.command("scale <group> <replicas>")
    .description("grow a replica group with copies of its spec, or shrink it from the highest number down")
    .action(async (group: string, count: string) => {
      const res = await client().scaleVmGroup({ group, replicas: replicaCount(count) });
      for (const created of res.created) process.stdout.write(`vm/${created} created\n`);
      for (const deleting of res.deleting) process.stdout.write(`vm/${deleting} deleting\n`);
      if (res.created.length + res.deleting.length === 0) process.stdout.write(`group ${group} unchanged\n`);
    });

  withWait(vm.command("start <name>").description("start a VM")).action(
    async (name: string, flags: WaitFlags) => {
      await client().startVm({ name });
      if (flags.wait) await waitFor(client(), name, "ready", ready(), Number(flags.timeout));
      process.stdout.write(`vm/${name} ${flags.wait ? "running" : "starting"}\n`);
    },
  );

  withWait(vm.command("stop <name>").description("stop a VM (graceful, then forced)")).action(
    async (name: string, flags: WaitFlags) => {
      await client().stopVm({ name });
      if (flags.wait) await waitFor(client(), name, "stopped", stopped, Number(flags.timeout));
      process.stdout.write(`vm/${name} ${flags.wait ? "stopped" : "stopping"}\n`);
    },
  );

  withWait(vm.command("restart <name>").description("restart a VM")).action(
    async (name: string, flags: WaitFlags) => {
      const res = await client().restartVm({ name });
      if (flags.wait) {
        await waitFor(
          client(),
          name,
          "restarted",
          ready(res.vm?.status?.startedAt ?? ""),
          Number(flags.timeout),
        );
      }
      process.stdout.write(`vm/${name} ${flags.wait ? "restarted" : "restarting"}\n`);
    },
  );

  withWait(vm.command("delete <name>").description("stop a VM and delete it with its state")).action(
    async (name: string, flags: WaitFlags) => {
      await client().deleteVm({ name });
      if (flags.wait) await waitFor(client(), name, "deleted", gone, Number(flags.timeout));
      process.stdout.write(`vm/${name} ${flags.wait ? "deleted" : "deleting"}\n`);
    },
  );

  vm.command("list")
    .alias("ls")
    .description("list VMs")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const { vms } = await client().listVms({});
      await printData(format, vms.map(vmJson), () => vmTable(vms));
    });

  vm.command("get <name>")
    .alias("status")
    .description("show one VM")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: { output?: string }) => {
      const format = outputFormat(flags.output);
      const [{ vm: found }, { events }] = await Promise.all([
        client().getVm({ name }),
        client().listEvents({ vm: name, limit: 5 }),
      ]);
      if (!found) throw new Error(`the node returned no VM for ${name}`);
      const { eventTable } = await import("./events-output.js");
      await printData(format, vmJson(found), () => `${vmDetail(found)}\nEvents:\n${eventTable(events)}`);
    });

  vm.command("logs <name>")
    .description(
      "print the VM's serial console (the last 100 lines by default); control characters and escape sequences are stripped on a terminal",
    )
    .option("-f, --follow", "keep printing new output (continues across log rotations)")
    .option("--tail <n>", "only the last N lines, or `all` for the whole retained log", "100")
    .option("--raw", "print the guest's bytes as they are, escape sequences included, even on a terminal")
    .action(async (name: string, flags: { follow?: boolean; tail: string; raw?: boolean }) => {
      const tail = flags.tail === "all" ? 0 : Number(flags.tail);
      if (!Number.isInteger(tail) || tail < 0)
        throw new UsageError(`--tail must be a whole number or all (got "${flags.tail}")`);
      // A guest is hostile: its escape sequences must not reach the user's terminal (terminal-safe.ts).
      const out = consoleOutput({ tty: process.stdout.isTTY === true, raw: flags.raw === true });
      if (!flags.follow) {
        const { text } = await client().getVmLogs({ name, tail });
        process.stdout.write(out(text));
        return;
      }
      const abort = new AbortController();
      process.once("SIGINT", () => abort.abort());
      try {
        for await (const chunk of client().followVmLogs({ name, tail }, { signal: abort.signal })) {
          process.stdout.write(out(chunk.text));
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
    });
}

function replicaCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100) {
    throw new UsageError(`replicas "${value}" must be a whole number from 0 to 100`);
  }
  return n;
}
