/**
 * `blixard volume create|list|get|delete|snapshot|clone`: named disks that outlive VMs
 * (docs/volumes.md). Definitions only: volume-actions.ts does the work when one runs.
 */
import type { Command } from "commander";
import type { GlobalOptions } from "./globals.js";
import type { CreateVolumeFlags } from "./volume-actions.js";

const actions = () => import("./volume-actions.js");

export function registerVolumeCommands(program: Command, globals: () => GlobalOptions): void {
  const volume = program
    .command("volume")
    .description("volumes: named disks that VMs attach (vm create --volume NAME[:ro])");

  volume
    .command("create <name>")
    .description("create a volume; a local one lives on one node, and VMs using it run there")
    .requiredOption("--size <size>", "its size, e.g. 1G or 512M")
    .option("--backend <backend>", "local (default) or rbd")
    .option("--pool <pool>", "the Ceph pool (rbd only)")
    .option("--from <image>", "copy this host image into it (admin only)")
    .option("--node <node>", "the node a local volume lives on (default: the node you talk to)")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: CreateVolumeFlags) =>
      (await actions()).createVolume(globals(), name, flags),
    );

  volume
    .command("list")
    .description("list volumes: backend, size, node and state")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listVolumes(globals(), flags));

  volume
    .command("get <name>")
    .description("show a volume: its state (Available, Attached to VM on NODE, Deleting) and snapshots")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: { output?: string }) =>
      (await actions()).getVolume(globals(), name, flags),
    );

  volume
    .command("delete <name>")
    .description("delete a volume and its bytes; refused while a VM uses it")
    .action(async (name: string) => (await actions()).deleteVolume(globals(), name));

  volume
    .command("snapshot <name> <snapshot>")
    .description("take a snapshot of a volume")
    .action(async (name: string, snapshot: string) =>
      (await actions()).snapshotVolume(globals(), name, snapshot),
    );

  volume
    .command("clone <source@snapshot> <name>")
    .description("create a new volume from a snapshot of another")
    .action(async (from: string, name: string) => (await actions()).cloneVolume(globals(), from, name));
}
