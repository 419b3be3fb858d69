/**
 * `kind: Service` documents in `blixard apply -f`: created when missing, left alone when the stored
 * spec is the same, and refused when it differs (a service's ports and group are fixed for its life
 * in this version; delete it and apply again). Every document is checked before anything is sent.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { isBlixardError } from "../core/errors.js";
import { parseServiceSpec, type ServiceSpec } from "../core/service-spec.js";
import { serviceClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
import { UsageError } from "./usage-error.js";

export interface ServiceApplyResult {
  kind: "Service";
  name: string;
  action: "created" | "unchanged" | "failed";
  dryRun: boolean;
  restart: false;
  changes: { path: string; old: unknown; new: unknown }[];
  error?: string;
}

/** The service documents (`kind: Service`) and the VM documents (no kind, or `kind: VM`) of a file. */
export function splitDocuments(docs: readonly Record<string, unknown>[], file: string) {
  const services: ServiceSpec[] = [];
  const vms: Record<string, unknown>[] = [];
  docs.forEach((doc, i) => {
    const { kind, ...rest } = doc;
    if (kind === "Service") services.push(serviceSpecOf(rest, i, file));
    else if (kind === undefined || kind === "VM") vms.push(rest);
    else
      throw new UsageError(
        `document ${i + 1} of ${file}: kind must be VM or Service (got ${JSON.stringify(kind)})`,
      );
  });
  const names = services.map((s) => s.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`${file} names service "${twice}" twice`);
  return { services, vms };
}

function serviceSpecOf(doc: Record<string, unknown>, i: number, file: string): ServiceSpec {
  try {
    return parseServiceSpec(doc);
  } catch (err) {
    if (isBlixardError(err)) throw new UsageError(`document ${i + 1} of ${file}: ${err.message}`);
    throw err;
  }
}

export async function applyServices(
  options: GlobalOptions,
  specs: readonly ServiceSpec[],
  dryRun: boolean,
): Promise<ServiceApplyResult[]> {
  if (specs.length === 0) return [];
  const client = serviceClient(options);
  const results: ServiceApplyResult[] = [];
  for (const spec of specs) {
    const base = { kind: "Service" as const, name: spec.name, dryRun, restart: false as const, changes: [] };
    try {
      const current = await client.getService({ name: spec.name }).catch((err: unknown) => {
        if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
        throw err;
      });
      if (!current?.service?.spec) {
        if (!dryRun) await client.createService({ spec });
        results.push({ ...base, action: "created" });
        continue;
      }
      const stored = current.service.spec;
      const changes = (["port", "targetPort", "group", "protocol", "hostPort"] as const)
        .filter((field) => stored[field] !== spec[field])
        .map((field) => ({ path: field, old: stored[field] ?? null, new: spec[field] ?? null }));
      if (changes.length === 0) results.push({ ...base, action: "unchanged" });
      else {
        results.push({
          ...base,
          action: "failed",
          changes,
          error: `service ${spec.name} exists with another ${changes.map((c) => c.path).join(", ")}; a service cannot be changed: delete it (blixard service delete ${spec.name}) and apply again`,
        });
      }
    } catch (err) {
      results.push({
        ...base,
        action: "failed",
        error: err instanceof ConnectError ? err.rawMessage : String(err),
      });
    }
  }
  return results;
}

export function describeServiceResult(r: ServiceApplyResult): string {
  const dry = r.dryRun && r.action === "created" ? " (dry run)" : "";
  return r.action === "failed"
    ? `service/${r.name} failed: ${r.error}\n`
    : `service/${r.name} ${r.action}${dry}\n`;
}
