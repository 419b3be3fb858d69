/**
 * What validating every VM record costs: the agent, the scheduler and the API decode each record they
 * read through core/vm-record-codec.ts (the spec schema, RE2 compile of a console pattern included),
 * where they used to trust `JSON.parse`. Both are measured side by side on the same record.
 */

import type { VmRecord } from "../core/vm-record.js";
import { decodeVmRecord, encodeVmRecord } from "../core/vm-record-codec.js";
import { parseVmSpec } from "../core/vm-spec.js";

export interface CodecFigures {
  jsonParseMicros: number;
  decodeMicros: number;
  encodeMicros: number;
}

function microsEach(rounds: number, f: () => unknown): number {
  for (let i = 0; i < rounds / 10; i++) f(); // JIT warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) f();
  return Number(process.hrtime.bigint() - t0) / rounds / 1000;
}

export function measureRecordCodec(rounds: number): CodecFigures {
  const record: VmRecord = {
    name: "web",
    spec: parseVmSpec({
      name: "web",
      kernel: "/srv/images/vmlinux",
      forwards: [{ host: 8080, guest: 80 }],
      healthCheck: { type: "console", pattern: "^blixard-ready$" },
      placement: { constraints: ["zone=eu-1"] },
    }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: "2026-01-01T00:00:00.000Z",
  };
  const value = JSON.stringify(record);
  return {
    jsonParseMicros: microsEach(rounds, () => JSON.parse(value)),
    decodeMicros: microsEach(rounds, () => decodeVmRecord("web", value)),
    encodeMicros: microsEach(rounds, () => encodeVmRecord(record)),
  };
}
