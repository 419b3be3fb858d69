import { describe, expect, it } from "vitest";
import { parseVmSpec } from "./vm-spec.js";
import { attachConflict, parseSize, type VolumeRecord, volumeRecordCodec } from "./volume.js";

const record: VolumeRecord = {
  name: "data",
  id: "vol-0123456789abcdef",
  backend: "local",
  sizeBytes: 1024 ** 3,
  node: "node-a",
  phase: "Available",
  message: "",
  attachments: [],
  snapshots: [],
  createdAt: "2026-12-03T00:00:00.000Z",
};

describe("volume records", () => {
  it("round-trips a valid record", () => {
    expect(volumeRecordCodec.decode(volumeRecordCodec.encode(record))).toEqual({ ok: true, value: record });
  });

  it("refuses an id that would name a path outside the volumes dir", () => {
    for (const id of ["../../etc/passwd", "vol-../x", "vol-0123456789abcdef/..", "/vol-0123456789abcdef"]) {
      const decoded = volumeRecordCodec.decode(JSON.stringify({ ...record, id }));
      expect(decoded).toMatchObject({ ok: false, problem: expect.stringContaining("id") });
    }
  });

  it("refuses a snapshot name that qemu-img would read as an option", () => {
    const snapshots = [{ name: "-l", ready: false, createdAt: record.createdAt }];
    expect(volumeRecordCodec.decode(JSON.stringify({ ...record, snapshots })).ok).toBe(false);
  });
});

describe("attach conflicts", () => {
  it("lets read-only attaches share and refuses any attach beside a read-write one", () => {
    expect(attachConflict("d", true, [{ vm: "a", readOnly: true }])).toBeUndefined();
    expect(attachConflict("d", false, [{ vm: "a", readOnly: true }])).toContain("read-only to VM a");
    expect(attachConflict("d", true, [{ vm: "a", readOnly: false }])).toContain("read-write to VM a");
    expect(attachConflict("d", false, [])).toBeUndefined();
  });
});

describe("sizes", () => {
  it("reads binary units and byte counts, and nothing else", () => {
    expect(parseSize("1G")).toBe(1024 ** 3);
    expect(parseSize("512MiB")).toBe(512 * 1024 ** 2);
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("1.5G")).toBeUndefined();
    expect(parseSize("-1G")).toBeUndefined();
    expect(parseSize("1X")).toBeUndefined();
  });
});

describe("volumes in a VM spec", () => {
  it("defaults to read-write, not the boot disk", () => {
    expect(parseVmSpec({ name: "a", kernel: "/k", volumes: [{ name: "d" }] }).volumes).toEqual([
      { name: "d", readOnly: false, boot: false },
    ]);
  });

  it("refuses a volume named twice, two boot volumes, and a boot volume beside a disk", () => {
    const twice = () => parseVmSpec({ name: "a", kernel: "/k", volumes: [{ name: "d" }, { name: "d" }] });
    expect(twice).toThrow(/spec.volumes.1.name: volume d is attached twice/);
    const boots = () =>
      parseVmSpec({
        name: "a",
        kernel: "/k",
        volumes: [
          { name: "d", boot: true },
          { name: "e", boot: true },
        ],
      });
    expect(boots).toThrow(/spec.volumes.1.boot: only one volume/);
    const both = () =>
      parseVmSpec({ name: "a", kernel: "/k", disk: "/x", volumes: [{ name: "d", boot: true }] });
    expect(both).toThrow(/spec.volumes.0.boot: a VM boots from its disk or from a volume/);
  });
});
