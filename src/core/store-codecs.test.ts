import { describe, expect, it } from "vitest";
import type { VmEvent } from "./events.js";
import type { NodeRecord } from "./node-record.js";
import {
  cordonCodec,
  decodeAll,
  MAX_STORE_VALUE_BYTES,
  nodeRecordCodec,
  vmEventCodec,
  vmStatusCodec,
} from "./store-codecs.js";
import { initialStatus } from "./vm-record.js";

const node: NodeRecord = {
  id: "node-1",
  apiUrl: "https://10.0.0.1:7001",
  labels: { zone: "a" },
  capacity: { vcpus: 8, memoryMiB: 16_384, drivers: ["qemu"] },
  allowance: { reserved: { vcpus: 0, memoryMiB: 512 }, overcommit: { cpu: 4, memory: 1 } },
  startedAt: "2026-12-03T10:00:00.000Z",
  isolation: "strict",
};

const event: VmEvent = {
  at: "2026-12-03T10:00:00.000Z",
  type: "running",
  vm: "web",
  node: "node-1",
  reason: "pid 42",
  actor: "admin",
};

describe("store codecs", () => {
  it("round-trips what Blixard's writers write", () => {
    const status = {
      ...initialStatus("node-1", "2026-12-03T10:00:00.000Z"),
      phase: "Running" as const,
      pid: 42,
    };
    expect(vmStatusCodec.decode(vmStatusCodec.encode(status))).toEqual({ ok: true, value: status });
    expect(nodeRecordCodec.decode(nodeRecordCodec.encode(node))).toEqual({ ok: true, value: node });
    const cordon = { draining: true, at: "2026-12-03T10:00:00.000Z" };
    expect(cordonCodec.decode(cordonCodec.encode(cordon))).toEqual({ ok: true, value: cordon });
    expect(vmEventCodec.decode(vmEventCodec.encode(event))).toEqual({ ok: true, value: event });
  });

  it("reads records older nodes wrote (no allowance, no isolation, no actor) and ignores fields newer ones add", () => {
    const { allowance: _a, isolation: _i, ...old } = node;
    expect(nodeRecordCodec.decode(JSON.stringify(old))).toEqual({ ok: true, value: old });
    const { actor: _actor, ...system } = event;
    const newer = nodeRecordCodec.decode(JSON.stringify({ ...node, zoneHint: "x" }));
    expect(newer).toEqual({ ok: true, value: node });
    expect(vmEventCodec.decode(JSON.stringify(system))).toEqual({ ok: true, value: system });
  });

  it("refuses values no Blixard writer could have written, naming the field", () => {
    // The attack: whoever reached etcd (`etcdctl put`) plants a status that claims a pid to signal, a
    // node record whose capacity draws every VM to it, or a value big enough to stall every reader.
    const status = initialStatus("node-1", "2026-12-03T10:00:00.000Z");
    expect(vmStatusCodec.decode(JSON.stringify({ ...status, pid: -1 }))).toEqual({
      ok: false,
      problem: expect.stringMatching(/^VM status: pid: /),
    });
    expect(vmStatusCodec.decode(JSON.stringify({ ...status, phase: "Owned" }))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^VM status: phase: /),
    });
    expect(nodeRecordCodec.decode(JSON.stringify({ ...node, capacity: { vcpus: "all" } }))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^node record: capacity\.vcpus: /),
    });
    expect(cordonCodec.decode("{not json")).toEqual({ ok: false, problem: "cordon is not JSON" });
    expect(vmEventCodec.decode(JSON.stringify({ ...event, type: "pwned" }))).toMatchObject({ ok: false });
    const huge = JSON.stringify({ ...event, reason: "x".repeat(MAX_STORE_VALUE_BYTES) });
    expect(vmEventCodec.decode(huge)).toEqual({ ok: false, problem: `event is ${huge.length} bytes` });
  });

  it("decodes a list, keeping the valid values in order and reporting the others by key", () => {
    const bad: string[] = [];
    const kvs = [
      { key: "/c/a", value: cordonCodec.encode({ draining: false, at: "t1" }) },
      { key: "/c/b", value: "[]" },
      { key: "/c/c", value: cordonCodec.encode({ draining: true, at: "t2" }) },
    ];
    const decoded = decodeAll(cordonCodec, kvs, (key, problem) => bad.push(`${key} ${problem}`));
    expect(decoded.map((d) => d.key)).toEqual(["/c/a", "/c/c"]);
    expect(bad).toEqual([expect.stringMatching(/^\/c\/b cordon: value: /)]);
  });
});
