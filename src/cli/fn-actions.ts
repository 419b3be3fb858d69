/**
 * What `blixard fn ...` do: deploy/list/get/delete through the FunctionService, logs through the
 * VmService (an instance is a VM), invoke as a plain HTTP request to a node's gateway. Flags are
 * checked here only for being numbers; the node validates the spec and names any field it refuses.
 */
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { parseFunctionSpec } from "../core/function-spec.js";
import { functionClient, vmClient } from "./client.js";
import { functionDetail, functionJson, functionTable } from "./fn-output.js";
import type { GlobalOptions } from "./globals.js";
import { outputFormat, printData } from "./output.js";
import { readSpecDocuments } from "./spec-input.js";
import { consoleOutput } from "./terminal-safe.js";
import { UsageError } from "./usage-error.js";
import { writeAll } from "./vm-logs.js";

export interface DeployFlags {
  file?: string;
  kernel?: string;
  initrd?: string;
  disk?: string;
  port?: string;
  memory?: string;
  vcpus?: string;
  minInstances?: string;
  maxInstances?: string;
  concurrency?: string;
  idleTimeout?: string;
  env?: string[];
  cmdline?: string;
  constraint?: string[];
  output?: string;
}

const NUMBER_FLAGS = [
  "port",
  "memory",
  "vcpus",
  "minInstances",
  "maxInstances",
  "concurrency",
  "idleTimeout",
] as const;

/** The spec from the file (if any) with the flags over it, in the wire shape. */
export function deploySpec(name: string, flags: DeployFlags, cwd = process.cwd()): Record<string, unknown> {
  const base = flags.file ? readOne(flags.file) : {};
  if (base["name"] !== undefined && base["name"] !== name) {
    throw new UsageError(`the spec file names function "${String(base["name"])}", not "${name}"`);
  }
  const spec: Record<string, unknown> = { ...base, name };
  for (const field of ["kernel", "initrd", "disk"] as const) {
    const value = flags[field];
    if (value !== undefined) spec[field] = value.startsWith("/") ? value : `${cwd}/${value}`;
  }
  for (const field of NUMBER_FLAGS) {
    const value = flags[field];
    if (value === undefined) continue;
    if (!/^\d{1,9}$/.test(value))
      throw new UsageError(`--${kebab(field)} must be a whole number (got "${value}")`);
    spec[field] = Number(value);
  }
  if (flags.cmdline !== undefined) spec["cmdline"] = flags.cmdline;
  if (flags.env) {
    const env: Record<string, string> = { ...((base["env"] as Record<string, string> | undefined) ?? {}) };
    for (const pair of flags.env) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new UsageError(`--env must be KEY=VALUE (got "${pair}")`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    spec["env"] = env;
  }
  if (flags.constraint) spec["constraints"] = flags.constraint;
  return spec;
}

export async function deployFunction(
  options: GlobalOptions,
  name: string,
  flags: DeployFlags,
): Promise<void> {
  const format = outputFormat(flags.output);
  // Parsed here too, strictly: a field the wire format has no place for (a typo in the file) is named
  // instead of silently dropped. The node parses again, and fills in its default image.
  const spec = parseFunctionSpec(deploySpec(name, flags));
  const { function: fn } = await functionClient(options).deployFunction({ spec });
  if (!fn) throw new Error("the node returned no function");
  await printData(format, functionJson(fn), () => `function/${name} version ${fn.version} deployed\n`);
}

export async function listFunctions(options: GlobalOptions, flags: { output?: string }): Promise<void> {
  const format = outputFormat(flags.output);
  const { functions } = await functionClient(options).listFunctions({});
  await printData(format, functions.map(functionJson), () => functionTable(functions));
}

export async function getFunction(
  options: GlobalOptions,
  name: string,
  flags: { output?: string },
): Promise<void> {
  const format = outputFormat(flags.output);
  const { function: fn } = await functionClient(options).getFunction({ name });
  if (!fn) throw new Error("the node returned no function");
  await printData(format, functionJson(fn), () => functionDetail(fn));
}

export async function deleteFunction(options: GlobalOptions, name: string): Promise<void> {
  await functionClient(options).deleteFunction({ name });
  process.stdout.write(`function/${name} deleted\n`);
}

export async function functionLogs(
  options: GlobalOptions,
  name: string,
  flags: { tail: string },
): Promise<void> {
  const tail = flags.tail === "all" ? 0 : Number(flags.tail);
  if (!Number.isInteger(tail) || tail < 0)
    throw new UsageError(`--tail must be a whole number or all (got "${flags.tail}")`);
  const { function: fn } = await functionClient(options).getFunction({ name });
  const out = consoleOutput({ tty: process.stdout.isTTY === true, raw: false });
  for (const instance of fn?.instances ?? []) {
    process.stdout.write(`==> ${instance.vm} (${instance.state}) <==\n`);
    await writeAll(vmClient(options).followVmLogs({ name: instance.vm, tail, stopAtEnd: true }), out);
  }
}

export interface InvokeFlags {
  data?: string;
  header?: string[];
  method?: string;
  gateway: string;
}

export async function invokeFunction(
  name: string,
  path: string | undefined,
  flags: InvokeFlags,
): Promise<void> {
  const body = flags.data === undefined ? undefined : readData(flags.data);
  const headers: Record<string, string> = {};
  for (const h of flags.header ?? []) {
    const colon = h.indexOf(":");
    if (colon <= 0) throw new UsageError(`--header must be NAME:VALUE (got "${h}")`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const suffix = path === undefined ? "/" : path.startsWith("/") ? path : `/${path}`;
  const url = new URL(`/fn/${encodeURIComponent(name)}${suffix}`, flags.gateway);
  if (url.protocol !== "http:")
    throw new UsageError("--gateway must be an http:// URL (the gateway listens on loopback)");
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(url, { method: flags.method ?? (body ? "POST" : "GET"), headers }, (res) => {
      res.pipe(process.stdout, { end: false });
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", (err) =>
      reject(new Error(`cannot reach the gateway at ${flags.gateway}: ${err.message}`)),
    );
    req.end(body);
  });
  if (status >= 400) process.exitCode = 1;
}

function readData(data: string): Buffer {
  if (data === "@-") return readFileSync(0);
  if (data.startsWith("@")) return readFileSync(data.slice(1));
  return Buffer.from(data);
}

function readOne(path: string): Record<string, unknown> {
  const docs = readSpecDocuments(path);
  if (docs.length !== 1)
    throw new UsageError(`spec file ${path} must hold one function spec (it holds ${docs.length})`);
  return docs[0]!;
}

function kebab(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
