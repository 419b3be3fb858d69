/** How `volume list|get` print a volume: a table, a detail view, or the documented JSON shape. */
import type { VolumeInfo } from "../gen/blixard/v1/volume_pb.js";
import { renderTable } from "./output.js";

/** `{ name, backend, pool, sizeBytes, node, phase, state, message, attachments, snapshots, from, createdAt }`. */
export function volumeJson(v: VolumeInfo): Record<string, unknown> {
  return {
    name: v.name,
    backend: v.backend,
    pool: v.pool || null,
    sizeBytes: Number(v.sizeBytes),
    node: v.node,
    phase: v.phase,
    state: v.state,
    message: v.message,
    attachments: v.attachments.map((a) => ({ vm: a.vm, readOnly: a.readOnly, node: a.node })),
    snapshots: v.snapshots.map((s) => ({ name: s.name, ready: s.ready, createdAt: s.createdAt })),
    from: v.from || null,
    id: v.id,
    createdAt: v.createdAt,
  };
}

export function sizeText(bytes: number): string {
  for (const [unit, size] of [
    ["TiB", 1024 ** 4],
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
  ] as const) {
    if (bytes >= size) return `${+(bytes / size).toFixed(1)}${unit}`;
  }
  return `${bytes}B`;
}

export function volumeTable(volumes: readonly VolumeInfo[]): string {
  const rows = volumes.map((v) => [
    v.name,
    v.backend + (v.pool ? `/${v.pool}` : ""),
    sizeText(Number(v.sizeBytes)),
    v.node || "-",
    v.state,
  ]);
  return renderTable(["NAME", "BACKEND", "SIZE", "NODE", "STATE"], rows);
}

export function volumeDetail(v: VolumeInfo): string {
  const lines: [string, string][] = [
    ["Name", v.name],
    ["Backend", v.backend + (v.pool ? ` (pool ${v.pool})` : "")],
    ["Size", `${sizeText(Number(v.sizeBytes))} (${v.sizeBytes} bytes)`],
    ["Node", v.node || "-"],
    ["State", v.state],
    ...(v.message ? ([["Message", v.message]] as [string, string][]) : []),
    ...(v.from ? ([["From", v.from]] as [string, string][]) : []),
    [
      "Snapshots",
      v.snapshots.length === 0
        ? "-"
        : v.snapshots.map((s) => `${s.name}${s.ready ? "" : " (pending)"}`).join(", "),
    ],
    ["Created", v.createdAt],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  return `${lines.map(([k, value]) => `${`${k}:`.padEnd(width)} ${value}`).join("\n")}\n`;
}
