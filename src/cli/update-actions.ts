/**
 * What `blixard vm update NAME` and `blixard apply -f FILE` do: send the full new spec to UpdateVm
 * (the VM's current spec with the flags laid over it, or each document of the file), creating with
 * CreateVm what `apply` finds missing, and print what changed. Loaded only when one of them runs.
 */
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type UpdateVmResponse, type VmSpec, VmSpecSchema } from "../gen/blixard/v1/vm_pb.js";
import { type VmClient, vmClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
import { outputFormat, printData, renderTable } from "./output.js";
import { applyServices, describeServiceResult, splitDocuments } from "./service-apply.js";
import { type CreateFlags, readSpecDocuments, withFlags } from "./spec-input.js";
import { UsageError } from "./usage-error.js";
import type { WaitFlags } from "./vm-lifecycle.js";
import { ready, waitFor } from "./wait.js";

export type UpdateVmFlags = CreateFlags & WaitFlags & { dryRun?: boolean; output?: string };
export interface ApplyFlags {
  file: string;
  dryRun?: boolean;
  start?: boolean;
  output?: string;
}

/** What happened to one VM, as `-o json` prints it. */
export interface ApplyResult {
  name: string;
  action: "created" | "updated" | "unchanged" | "failed";
  dryRun: boolean;
  /** The VM restarts to apply the change (it needs a restart and is desired running). */
  restart: boolean;
  /** The change needs a restart and the VM is stopped: it is applied at its next start. */
  nextStart?: boolean;
  changes: { path: string; old: unknown; new: unknown }[];
  error?: string;
}

export async function updateVm(options: GlobalOptions, name: string, flags: UpdateVmFlags): Promise<void> {
  const format = outputFormat(flags.output);
  if (flags.file !== undefined)
    throw new UsageError("vm update takes flags; for a spec file use: blixard apply -f FILE");
  const client = vmClient(options);
  const { vm: current } = await client.getVm({ name });
  if (!current?.spec) throw new Error(`the node returned no spec for ${name}`);
  const base = toJson(VmSpecSchema, current.spec) as Record<string, unknown>;
  // A list flag replaces the list: `--forward` names every forward the VM should have.
  if (flags.forward?.length) base["forwards"] = [];
  const spec = withFlags(base, flags);
  // The spec we changed goes along: a change someone made since we read it fails the update (ABORTED).
  const res = await client.updateVm({ spec, dryRun: flags.dryRun ?? false, expectedSpec: current.spec });
  const result = resultOf(name, res);
  await printData(format, result, () => describe(result));
  const restarting = result.restart && !result.dryRun && current.desiredState === "running";
  if (restarting && flags.wait) {
    await waitFor(client, name, "restarted", ready(current.status?.startedAt ?? ""), Number(flags.timeout));
    if (format === "table") process.stdout.write(`vm/${name} restarted\n`);
  }
}

export async function applyFile(options: GlobalOptions, flags: ApplyFlags): Promise<void> {
  const format = outputFormat(flags.output);
  // Every document is read and converted before anything is sent: a malformed file changes nothing.
  const documents = splitDocuments(readSpecDocuments(flags.file), flags.file);
  const specs = documents.vms.map((doc, i) => {
    if (typeof doc["name"] !== "string" || doc["name"] === "") {
      throw new UsageError(`document ${i + 1} of ${flags.file} has no name; every spec needs one`);
    }
    return withFlags(doc, {});
  });
  const names = specs.map((s) => s.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`${flags.file} names VM "${twice}" twice`);
  const client = vmClient(options);
  const results: ApplyResult[] = [];
  for (const spec of specs) {
    const result = await applyOne(client, spec, flags).catch(
      (err: unknown): ApplyResult => ({
        name: spec.name,
        action: "failed",
        dryRun: flags.dryRun ?? false,
        restart: false,
        changes: [],
        error: err instanceof ConnectError ? err.rawMessage : String(err),
      }),
    );
    results.push(result);
    if (format === "table") process.stdout.write(describe(result));
  }
  const services = await applyServices(options, documents.services, flags.dryRun ?? false);
  if (format === "table") for (const r of services) process.stdout.write(describeServiceResult(r));
  const all = [...results, ...services];
  if (format !== "table") await printData(format, all, () => "");
  const failed = all.filter((r) => r.action === "failed").length;
  if (failed > 0) throw new Error(`${failed} of ${all.length} documents in ${flags.file} were not applied`);
}

async function applyOne(client: VmClient, spec: VmSpec, flags: ApplyFlags): Promise<ApplyResult> {
  const dryRun = flags.dryRun ?? false;
  try {
    return resultOf(spec.name, await client.updateVm({ spec, dryRun }));
  } catch (err) {
    if (!(err instanceof ConnectError && err.code === Code.NotFound)) throw err;
  }
  // CreateVm has no dry run: a VM that would be created is reported without being validated.
  if (!dryRun) await client.createVm({ spec, start: flags.start ?? false });
  return { name: spec.name, action: "created", dryRun, restart: false, changes: [] };
}

function resultOf(name: string, res: UpdateVmResponse): ApplyResult {
  return {
    name,
    action: res.changes.length > 0 ? "updated" : "unchanged",
    dryRun: res.dryRun,
    restart: res.restart && res.vm?.desiredState === "running",
    ...(res.restart && res.vm?.desiredState !== "running" ? { nextStart: true } : {}),
    changes: res.changes.map((c) => ({ path: c.path, old: parsed(c.oldValue), new: parsed(c.newValue) })),
  };
}

function parsed(value: string | undefined): unknown {
  return value === undefined ? null : (JSON.parse(value) as unknown);
}

/** `vm/web updated (restarting to apply it)` and, when fields changed, a FIELD/OLD/NEW table. */
export function describe(result: ApplyResult): string {
  const change = result.action === "created" || result.action === "updated";
  const verb = result.dryRun && change ? `would be ${result.action}` : result.action;
  const note = result.error
    ? `: ${result.error}`
    : result.restart
      ? result.dryRun
        ? " (the VM would restart to apply it)"
        : " (restarting to apply it)"
      : result.nextStart
        ? " (applied at its next start)"
        : "";
  const line = `vm/${result.name} ${verb}${note}\n`;
  if (result.changes.length === 0) return line;
  const rows = result.changes.map((c) => [c.path, shown(c.old), shown(c.new)]);
  return `${line}${renderTable(["FIELD", "OLD", "NEW"], rows)}`;
}

/**
 * A value for the table, with control characters spelled as \uXXXX: a spec's strings (a cmdline, a
 * console pattern) may carry escape sequences that would rewrite the reader's terminal.
 */
export function shown(value: unknown): string {
  if (value === null) return "-";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  let out = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\u${code.toString(16).padStart(4, "0")}` : c;
  }
  return out;
}
