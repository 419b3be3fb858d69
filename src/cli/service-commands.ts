/**
 * `blixard service create|list|get|delete`: load-balanced services in front of a replica group.
 * Definitions only: service-actions.ts does the work when one runs.
 */
import type { Command } from "commander";
import type { GlobalOptions } from "./globals.js";
import type { CreateServiceFlags } from "./service-actions.js";

const actions = () => import("./service-actions.js");

export function registerServiceCommands(program: Command, globals: () => GlobalOptions): void {
  const service = program
    .command("service")
    .description("load-balanced services: a virtual address and port in front of a replica group's VMs");

  service
    .command("create <name>")
    .description(
      "create a service: connections to its address (and --host-port on every node) go to the group's running, healthy bridge-mode VMs",
    )
    .requiredOption("--port <port>", "the port clients connect to at the service address")
    .requiredOption("--target-port <port>", "the port the group's VMs listen on")
    .requiredOption(
      "--group <group>",
      "the replica group that serves it (vm create GROUP --replicas N --network bridge)",
    )
    .option("--host-port <port>", "also serve it on this port (1024 or above) of every node's address")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: CreateServiceFlags) =>
      (await actions()).createService(globals(), name, flags),
    );

  service
    .command("list")
    .description("list services: address, ports, group and members")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (flags: { output?: string }) => (await actions()).listServices(globals(), flags));

  service
    .command("get <name>")
    .description("show a service and the VMs that receive its connections now")
    .option("-o, --output <format>", "table, json or yaml")
    .action(async (name: string, flags: { output?: string }) =>
      (await actions()).getService(globals(), name, flags),
    );

  service
    .command("delete <name>")
    .description("delete a service; its address and host port are released")
    .action(async (name: string) => (await actions()).deleteService(globals(), name));
}
