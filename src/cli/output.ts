/** Rendering for read commands: `-o table` (default), `json` or `yaml`. The CLI's only stdout writer. */
import { toJson } from "@bufbuild/protobuf";
import type { Node } from "../gen/blixard/v1/node_pb.js";
import { type Vm, VmSpecSchema } from "../gen/blixard/v1/vm_pb.js";
import { UsageError } from "./usage-error.js";

export type OutputFormat = "table" | "json" | "yaml";

export function outputFormat(value: string | undefined): OutputFormat {
  const format = value ?? "table";
  if (format === "table" || format === "json" || format === "yaml") return format;
  throw new UsageError(`-o must be table, json or yaml (got "${format}")`);
}

/** The documented JSON shape of a VM: `{ name, spec, status: { phase, node, pid, restarts, health, ... } }`. */
export function vmJson(vm: Vm): Record<string, unknown> {
  const status = vm.status;
  const exit = status?.lastExit;
  return {
    name: vm.name,
    spec: vm.spec ? toJson(VmSpecSchema, vm.spec) : {},
    desiredState: vm.desiredState,
    deleting: vm.deleting,
    createdAt: vm.createdAt,
    group: vm.group || null,
    status: {
      phase: status?.phase ?? "Pending",
      node: status?.node ?? "",
      address: status?.address || null,
      pid: status?.pid ?? null,
      restarts: status?.restarts ?? 0,
      health: status?.health ?? "none",
      message: status?.message ?? "",
      startedAt: status?.startedAt ?? null,
      readyAt: status?.readyAt ?? null,
      lastExit: exit
        ? { code: exit.code ?? null, signal: exit.signal ?? null, known: exit.known, at: exit.at }
        : null,
      nextRestartAt: status?.nextRestartAt ?? null,
    },
  };
}

export async function printData(format: OutputFormat, data: unknown, table: () => string): Promise<void> {
  if (format === "json") process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  // Loaded only when asked for: the table path stays fast to start.
  else if (format === "yaml") process.stdout.write((await import("yaml")).stringify(data));
  else process.stdout.write(table());
}

export function vmTable(vms: Vm[]): string {
  const rows = vms.map((vm) => [
    vm.name,
    vm.status?.phase ?? "Pending",
    vm.status?.health ?? "none",
    vm.status?.pid ? String(vm.status.pid) : "-",
    String(vm.status?.restarts ?? 0),
    String(vm.spec?.vcpus ?? ""),
    `${vm.spec?.memory ?? ""}Mi`,
    vm.status?.address || "-",
    (vm.spec?.forwards ?? []).map((f) => `${f.host}->${f.guest}`).join(",") || "-",
    vm.status?.node || "-",
    vm.group || "-",
  ]);
  return renderTable(
    ["NAME", "PHASE", "HEALTH", "PID", "RESTARTS", "VCPUS", "MEMORY", "IP", "FORWARDS", "NODE", "GROUP"],
    rows,
  );
}

export function vmDetail(vm: Vm): string {
  const j = vmJson(vm);
  const s = j["status"] as Record<string, unknown>;
  const spec = vm.spec;
  const lines: [string, string][] = [
    ["Name", vm.name],
    ["Phase", String(s["phase"])],
    ["Health", String(s["health"])],
    ["Desired", vm.deleting ? "deleting" : vm.desiredState],
    ["Node", String(s["node"])],
    ["PID", s["pid"] === null ? "-" : String(s["pid"])],
    ["Restarts", String(s["restarts"])],
    ["Message", String(s["message"] || "-")],
    ["Started", String(s["startedAt"] ?? "-")],
    ["Ready", String(s["readyAt"] ?? "-")],
    ["VCPUs", String(spec?.vcpus ?? "")],
    ["Memory", `${spec?.memory ?? ""} MiB`],
    ["Driver", spec?.driver || "qemu"],
    ["Network", spec?.network || "user"],
    ["Address", vm.status?.address || "-"],
    ...bootLines(spec),
    ["Disk", spec?.disk ?? "-"],
    ["Forwards", (spec?.forwards ?? []).map((f) => `${f.host}->${f.guest}/${f.protocol}`).join(", ") || "-"],
    ["Restart", spec?.restartPolicy ?? ""],
    ["Health check", spec?.healthCheck ? describeCheck(spec.healthCheck) : "-"],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  return `${lines.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join("\n")}\n`;
}

/** What the VM boots: a kernel (qemu), or a microvm.nix runner and where it comes from (microvm-nix). */
function bootLines(spec: Vm["spec"]): [string, string][] {
  if (spec?.driver !== "microvm-nix") {
    return [
      ["Kernel", spec?.kernel ?? ""],
      ["Initrd", spec?.initrd ?? "-"],
    ];
  }
  const m = spec.microvm;
  const source = m?.runner ? `runner ${m.runner}` : m?.flake ? `flake ${m.flake}` : "generated flake";
  return [
    ["Runner", source],
    ["Hypervisor", m?.hypervisor ?? (m?.runner || m?.flake ? "(the flake's)" : "qemu")],
  ];
}

function describeCheck(check: NonNullable<NonNullable<Vm["spec"]>["healthCheck"]>): string {
  if (check.type === "console") return `console /${check.pattern}/`;
  if (check.type === "http") return `http :${check.port}${check.path}`;
  return `tcp :${check.port}`;
}

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

export function nodeJson(node: Node): Record<string, unknown> {
  return {
    id: node.id,
    state: node.state,
    leader: node.leader,
    apiUrl: node.apiUrl,
    labels: { ...node.labels },
    capacity: {
      vcpus: node.capacity?.vcpus ?? 0,
      memoryMiB: node.capacity?.memoryMib ?? 0,
      drivers: [...(node.capacity?.drivers ?? [])],
      volumeBytes: node.capacity?.volumeBytes === undefined ? null : Number(node.capacity.volumeBytes),
    },
    allocatable: resourcesJson(node.allocatable),
    allocated: resourcesJson(node.allocated),
    free: resourcesJson(node.free),
    vms: node.vms,
    cordoned: node.cordoned,
    draining: node.draining,
    startedAt: node.startedAt,
    isolation: node.isolation,
    ...(node.ceph
      ? {
          ceph: {
            reachable: node.ceph.reachable,
            reason: node.ceph.reason || undefined,
            pool: node.ceph.pool,
          },
        }
      : {}),
  };
}

function resourcesJson(r: { vcpus: number; memoryMib: number } | undefined) {
  return { vcpus: r?.vcpus ?? 0, memoryMiB: r?.memoryMib ?? 0 };
}

export function nodeTable(nodes: Node[]): string {
  // VCPUS and MEMORY read "allocated/allocatable", what VMs hold of what they may use.
  const rows = nodes.map((n) => [
    n.id,
    n.draining ? `${n.state},Draining` : n.cordoned ? `${n.state},Cordoned` : n.state,
    n.leader ? "*" : "",
    `${n.allocated?.vcpus ?? 0}/${n.allocatable?.vcpus ?? 0}`,
    `${n.allocated?.memoryMib ?? 0}/${n.allocatable?.memoryMib ?? 0}Mi`,
    String(n.vms),
    (n.capacity?.drivers ?? []).join(","),
    n.capacity?.volumeBytes === undefined
      ? "-"
      : `${Math.floor(Number(n.capacity.volumeBytes) / 1024 ** 3)}Gi`,
    Object.entries(n.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",") || "-",
    n.apiUrl,
  ]);
  return renderTable(
    ["ID", "STATE", "LEADER", "VCPUS", "MEMORY", "VMS", "DRIVERS", "VOLUME-SPACE", "LABELS", "API"],
    rows,
  );
}
