/**
 * What `blixard vm start|stop|restart|delete` do. The request goes out as a plain Connect JSON call
 * (unary-json.ts), so that `vm start --no-wait` reaches the node without loading the Connect client;
 * waiting loads it (and polls through it) only once the request has been sent.
 */
import type { GlobalOptions } from "./globals.js";
import { unaryJson } from "./unary-json.js";
import type { Condition } from "./wait.js";

const VM_SERVICE = "blixard.v1.VmService";

export interface WaitFlags {
  wait: boolean;
  timeout: string;
}

export async function startVm(options: GlobalOptions, name: string, flags: WaitFlags): Promise<void> {
  await unaryJson(options, VM_SERVICE, "StartVm", { name });
  if (flags.wait) await waitUntil(options, name, "ready", (w) => w.ready(), flags);
  process.stdout.write(`vm/${name} ${flags.wait ? "running" : "starting"}\n`);
}

export async function stopVm(options: GlobalOptions, name: string, flags: WaitFlags): Promise<void> {
  await unaryJson(options, VM_SERVICE, "StopVm", { name });
  if (flags.wait) await waitUntil(options, name, "stopped", (w) => w.stopped, flags);
  process.stdout.write(`vm/${name} ${flags.wait ? "stopped" : "stopping"}\n`);
}

export async function restartVm(options: GlobalOptions, name: string, flags: WaitFlags): Promise<void> {
  const reply = await unaryJson(options, VM_SERVICE, "RestartVm", { name });
  if (flags.wait) {
    const previousStart = startedAt(reply);
    await waitUntil(options, name, "restarted", (w) => w.ready(previousStart), flags);
  }
  process.stdout.write(`vm/${name} ${flags.wait ? "restarted" : "restarting"}\n`);
}

export async function deleteVm(options: GlobalOptions, name: string, flags: WaitFlags): Promise<void> {
  await unaryJson(options, VM_SERVICE, "DeleteVm", { name });
  if (flags.wait) await waitUntil(options, name, "deleted", (w) => w.gone, flags);
  process.stdout.write(`vm/${name} ${flags.wait ? "deleted" : "deleting"}\n`);
}

/** `vm.status.startedAt` of a RestartVm reply in proto3 JSON ("" when the VM had not started). */
export function startedAt(reply: Record<string, unknown>): string {
  const vm = reply["vm"] as { status?: { startedAt?: unknown } } | undefined;
  const value = vm?.status?.startedAt;
  return typeof value === "string" ? value : "";
}

async function waitUntil(
  options: GlobalOptions,
  name: string,
  what: string,
  condition: (wait: typeof import("./wait.js")) => Condition,
  flags: WaitFlags,
): Promise<void> {
  const [wait, { vmClient }] = await Promise.all([import("./wait.js"), import("./client.js")]);
  await wait.waitFor(vmClient(options), name, what, condition(wait), Number(flags.timeout));
}
