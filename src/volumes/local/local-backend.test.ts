import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runVolumeBackendContract } from "../volume-backend.contract.js";
import { LocalVolumeBackend } from "./local-backend.js";

let next = 0;

runVolumeBackendContract("local", async () => {
  const dir = await mkdtemp(join(tmpdir(), "blixard-local-volumes-"));
  return {
    backend: new LocalVolumeBackend({ dir: join(dir, "volumes") }),
    location: () => ({ backend: "local", image: `vol-${(++next).toString(16).padStart(16, "0")}` }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe("local volume paths", () => {
  it("refuses an image name that would leave the volumes dir, touching nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "blixard-local-volumes-"));
    try {
      const backend = new LocalVolumeBackend({ dir: join(dir, "volumes") });
      for (const image of ["../../etc/passwd", "vol-0000000000000001/../../x", "/etc/shadow", "vol-1"]) {
        const at = { backend: "local" as const, image };
        await expect(backend.create(at, { sizeBytes: 1024 ** 2 })).rejects.toThrow(/not a volume id/);
        await expect(backend.remove(at)).rejects.toThrow(/not a volume id/);
        expect(() => backend.source(at, false)).toThrow(/not a volume id/);
      }
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps a volume's file under <dir>/<id>.qcow2", () => {
    const backend = new LocalVolumeBackend({ dir: "/data/volumes" });
    const image = "vol-00000000000000aa";
    expect(backend.source({ backend: "local", image }, true)).toEqual({
      kind: "file",
      path: `/data/volumes/${image}.qcow2`,
      format: "qcow2",
    });
  });
});
