/** How `service list|get` print a service: a table, a detail view, or the documented JSON shape. */
import type { ServiceInfo } from "../gen/blixard/v1/service_pb.js";
import { renderTable } from "./output.js";

/** `{ name, address, spec: { port, targetPort, group, protocol, hostPort }, createdAt, members: [...] }`. */
export function serviceJson(s: ServiceInfo): Record<string, unknown> {
  const spec = s.spec;
  return {
    name: spec?.name ?? "",
    address: s.address,
    spec: {
      port: spec?.port ?? 0,
      targetPort: spec?.targetPort ?? 0,
      group: spec?.group ?? "",
      protocol: spec?.protocol || "tcp",
      hostPort: spec?.hostPort ?? null,
    },
    createdAt: s.createdAt,
    members: s.members.map((m) => ({ vm: m.vm, address: m.address, port: m.port })),
  };
}

export function serviceTable(services: readonly ServiceInfo[]): string {
  const rows = services.map((s) => [
    s.spec?.name ?? "",
    s.address,
    `${s.spec?.port ?? ""}/${s.spec?.protocol || "tcp"}`,
    String(s.spec?.targetPort ?? ""),
    s.spec?.hostPort === undefined ? "-" : String(s.spec.hostPort),
    s.spec?.group ?? "",
    String(s.members.length),
  ]);
  return renderTable(["NAME", "ADDRESS", "PORT", "TARGET", "HOST-PORT", "GROUP", "MEMBERS"], rows);
}

export function serviceDetail(s: ServiceInfo): string {
  const j = serviceJson(s);
  const spec = j["spec"] as Record<string, unknown>;
  const lines: [string, string][] = [
    ["Name", String(j["name"])],
    ["Address", `${s.address}:${String(spec["port"])}/${String(spec["protocol"])}`],
    ["Target port", String(spec["targetPort"])],
    ["Host port", spec["hostPort"] === null ? "-" : String(spec["hostPort"])],
    ["Group", String(spec["group"])],
    ["Created", s.createdAt],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  const members =
    s.members.length === 0
      ? "Members:      none (no running, healthy bridge-mode VM in the group)\n"
      : `Members:\n${s.members.map((m) => `  ${m.vm}   ${m.address}:${m.port}`).join("\n")}\n`;
  return `${lines.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n")}\n${members}`;
}
