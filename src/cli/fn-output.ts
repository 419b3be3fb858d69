/** How `fn list|get|deploy` print a function: a table, a detail view, or the documented JSON shape. */
import type { FunctionInfo } from "../gen/blixard/v1/function_pb.js";
import { renderTable } from "./output.js";

/** `{ name, version, spec: {...}, createdAt, versions: [...], instances: [...], waiting, inFlight }`. */
export function functionJson(f: FunctionInfo): Record<string, unknown> {
  const s = f.spec;
  return {
    name: s?.name ?? "",
    version: f.version,
    spec: {
      kernel: s?.kernel ?? "",
      initrd: s?.initrd ?? "",
      disk: s?.disk ?? "",
      port: s?.port ?? 0,
      memory: s?.memory ?? 0,
      vcpus: s?.vcpus ?? 0,
      minInstances: s?.minInstances ?? 0,
      maxInstances: s?.maxInstances ?? 0,
      concurrency: s?.concurrency ?? 0,
      idleTimeout: s?.idleTimeout ?? 0,
      env: { ...(s?.env ?? {}) },
      cmdline: s?.cmdline ?? "",
      constraints: [...(s?.constraints ?? [])],
    },
    createdAt: f.createdAt,
    versions: f.versions.map((v) => ({ version: v.version, deployedAt: v.deployedAt, actor: v.actor })),
    instances: f.instances.map((i) => ({
      vm: i.vm,
      version: i.version,
      state: i.state,
      node: i.node,
      inFlight: i.inFlight,
    })),
    waiting: f.waiting,
    inFlight: f.instances.reduce((sum, i) => sum + i.inFlight, 0),
  };
}

export function functionTable(functions: readonly FunctionInfo[]): string {
  const rows = functions.map((f) => [
    f.spec?.name ?? "",
    String(f.version),
    `${f.instances.filter((i) => i.state === "ready").length}/${f.instances.length}`,
    `${f.spec?.minInstances ?? 0}-${f.spec?.maxInstances ?? 0}`,
    String(f.spec?.concurrency ?? 0),
    String(f.instances.reduce((sum, i) => sum + i.inFlight, 0)),
    String(f.waiting),
  ]);
  return renderTable(["NAME", "VERSION", "READY", "MIN-MAX", "CONCURRENCY", "IN-FLIGHT", "WAITING"], rows);
}

export function functionDetail(f: FunctionInfo): string {
  const s = f.spec;
  const env = Object.entries(s?.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const lines: [string, string][] = [
    ["Name", s?.name ?? ""],
    ["Version", String(f.version)],
    ["Image", [s?.kernel, s?.initrd, s?.disk].filter((p) => p).join(" ")],
    ["Port", String(s?.port ?? "")],
    ["Resources", `${s?.vcpus ?? 0} vcpu, ${s?.memory ?? 0} MiB`],
    [
      "Instances",
      `min ${s?.minInstances ?? 0}, max ${s?.maxInstances ?? 0}, concurrency ${s?.concurrency ?? 0}`,
    ],
    ["Idle timeout", `${s?.idleTimeout ?? 0}s`],
    ["Env", env.join(" ") || "-"],
    ["Waiting", String(f.waiting)],
    ["Created", f.createdAt],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  const head = lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}\n`).join("");
  const instances = renderTable(
    ["INSTANCE", "VERSION", "STATE", "NODE", "IN-FLIGHT"],
    f.instances.map((i) => [i.vm, String(i.version), i.state, i.node || "-", String(i.inFlight)]),
  );
  const versions = renderTable(
    ["VERSION", "DEPLOYED", "BY"],
    f.versions.map((v) => [String(v.version), v.deployedAt, v.actor || "-"]),
  );
  return `${head}\n${instances}\n${versions}`;
}
