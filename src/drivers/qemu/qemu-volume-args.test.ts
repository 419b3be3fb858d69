import { describe, expect, it } from "vitest";
import { parseVmSpec } from "../../core/vm-spec.js";
import type { AttachedVolume } from "../../ports/vm-driver.js";
import { viewEntries } from "../jail/jail-view.js";
import { buildQemuArgs } from "./qemu-args.js";
import { vmPaths } from "./vm-paths.js";

const paths = vmPaths("/var/lib/blixard/vms", "web");

function drives(args: string[]): string[] {
  return args
    .flatMap((a, i) => (args[i - 1] === "-drive" || args[i - 1] === "-device" ? [a] : []))
    .filter((a) => a.includes("drive") || a.startsWith("id="));
}

function volume(name: string, path: string, extra: Partial<AttachedVolume> = {}): AttachedVolume {
  return { name, readOnly: false, boot: false, source: { kind: "file", path, format: "qcow2" }, ...extra };
}

describe("volumes on the qemu command line", () => {
  it("attaches volumes after the boot disk, in the spec's order, read-only ones read-only", () => {
    const spec = parseVmSpec({ name: "web", kernel: "/k", disk: "/base.img" });
    const args = buildQemuArgs("web", spec, paths, "tcg", {
      volumes: [volume("a", "/vol/0"), volume("b", "/vol/1", { readOnly: true })],
    });
    expect(drives(args)).toEqual([
      `id=disk0,file=${paths.diskOverlay},if=none,format=qcow2`,
      "virtio-blk-device,drive=disk0",
      "id=vol0,if=none,file=/vol/0,format=qcow2",
      "virtio-blk-device,drive=vol0",
      "id=vol1,if=none,file=/vol/1,format=qcow2,readonly=on",
      "virtio-blk-device,drive=vol1",
    ]);
  });

  it("puts a boot volume first, in the boot disk's place", () => {
    const spec = parseVmSpec({ name: "web", kernel: "/k" });
    const args = buildQemuArgs("web", spec, paths, "tcg", {
      volumes: [volume("data", "/vol/0"), volume("root", "/vol/1", { boot: true })],
    });
    expect(drives(args)).toEqual([
      "id=vol1,if=none,file=/vol/1,format=qcow2",
      "virtio-blk-device,drive=vol1",
      "id=vol0,if=none,file=/vol/0,format=qcow2",
      "virtio-blk-device,drive=vol0",
    ]);
  });

  it("doubles commas in a volume path, so a path cannot add drive options", () => {
    const spec = parseVmSpec({ name: "web", kernel: "/k" });
    const args = buildQemuArgs("web", spec, paths, "tcg", {
      volumes: [volume("a", "/data,file.locking=off,readonly=off/v.qcow2", { readOnly: true })],
    });
    expect(drives(args)[0]).toBe(
      "id=vol0,if=none,file=/data,,file.locking=off,,readonly=off/v.qcow2,format=qcow2,readonly=on",
    );
  });
});

describe("volumes in the jail's view", () => {
  it("binds each volume file at /vol/<i>, writable only when attached read-write", () => {
    const view = viewEntries({
      stateDir: "/vms/web",
      system: [],
      inputs: {},
      owner: 2_000_000_100,
      volumes: [
        { path: "/data/volumes/vol-aa.qcow2", readOnly: false },
        { path: "/data/volumes/vol-bb.qcow2", readOnly: true },
      ],
    });
    expect(view.entries.filter((e) => e.target.startsWith("/vol/"))).toEqual([
      { kind: "rw-file", source: "/data/volumes/vol-aa.qcow2", target: "/vol/0" },
      { kind: "ro-file", source: "/data/volumes/vol-bb.qcow2", target: "/vol/1" },
    ]);
    // The volumes dir itself is not in the view: the VM sees its own volumes and no other.
    expect(view.entries.some((e) => e.source === "/data/volumes")).toBe(false);
  });
});
