/**
 * What `blixard vm create|scale|list|get` do: thin calls to the VmService, with waits and output
 * formatting. Loaded by vm-commands.ts when one of them runs, never at start-up; start, stop, restart
 * and delete are in vm-lifecycle.ts, logs in vm-logs.ts.
 */
import { vmClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
import { outputFormat, printData, vmDetail, vmJson, vmTable } from "./output.js";
import type { CreateFlags } from "./spec-input.js";
import { UsageError } from "./usage-error.js";
import type { WaitFlags } from "./vm-lifecycle.js";
import { ready, waitFor } from "./wait.js";

export type CreateVmFlags = CreateFlags & WaitFlags & { start?: boolean; replicas?: string };

export async function createVm(options: GlobalOptions, name: string, flags: CreateVmFlags): Promise<void> {
  // Spec parsing (TOML, YAML) is loaded only by `vm create`.
  const { buildSpec } = await import("./spec-input.js");
  const spec = buildSpec(name, flags);
  const replicas = flags.replicas === undefined ? 0 : replicaCount(flags.replicas);
  if (flags.replicas !== undefined && replicas === 0) {
    throw new UsageError("--replicas must be at least 1 (leave it out for a single VM)");
  }
  const client = vmClient(options);
  const res = await client.createVm({ spec, start: flags.start ?? false, replicas });
  if (!res.vm) throw new Error("the node returned no VM");
  const names = replicas > 0 ? res.replicas.map((vm) => vm.name) : [name];
  for (const created of names) process.stdout.write(`vm/${created} created\n`);
  if (flags.start && flags.wait) {
    for (const created of names) {
      await waitFor(client, created, "ready", ready(), Number(flags.timeout));
      process.stdout.write(`vm/${created} running\n`);
    }
  }
}

export async function scaleVmGroup(options: GlobalOptions, group: string, count: string): Promise<void> {
  const res = await vmClient(options).scaleVmGroup({ group, replicas: replicaCount(count) });
  for (const created of res.created) process.stdout.write(`vm/${created} created\n`);
  for (const deleting of res.deleting) process.stdout.write(`vm/${deleting} deleting\n`);
  if (res.created.length + res.deleting.length === 0) process.stdout.write(`group ${group} unchanged\n`);
}

export async function listVms(options: GlobalOptions, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const { vms } = await vmClient(options).listVms({});
  await printData(format, vms.map(vmJson), () => vmTable(vms));
}

export async function getVm(options: GlobalOptions, name: string, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const client = vmClient(options);
  const [{ vm: found }, { events }] = await Promise.all([
    client.getVm({ name }),
    client.listEvents({ vm: name, limit: 5 }),
  ]);
  if (!found) throw new Error(`the node returned no VM for ${name}`);
  const { eventTable } = await import("./events-output.js");
  await printData(format, vmJson(found), () => `${vmDetail(found)}\nEvents:\n${eventTable(events)}`);
}

function replicaCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100) {
    throw new UsageError(`replicas "${value}" must be a whole number from 0 to 100`);
  }
  return n;
}
