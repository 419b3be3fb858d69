import { describe, expect, it } from "vitest";
import { parseVmSpec } from "../core/vm-spec.js";
import type { VolumeRecord } from "../core/volume.js";
import type { BlockSource, VolumeBackend, VolumeLocation } from "../ports/volume-backend.js";
import { createVolumeParts } from "../state/volume-transactions.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { volumeSources } from "./volume-sources.js";

/** An rbd backend double that records what it is asked to fence. */
function recordingBackend(): VolumeBackend & { fenced: VolumeLocation[] } {
  const fenced: VolumeLocation[] = [];
  return {
    name: "rbd",
    fenced,
    available: async () => ({ ok: true }),
    create: async () => undefined,
    remove: async () => undefined,
    exists: async () => true,
    snapshot: async () => undefined,
    source: (at): BlockSource => ({
      kind: "rbd",
      pool: at.pool ?? "rbd",
      image: at.image,
      user: "admin",
      confPath: "/c",
    }),
    fence: async (at) => {
      fenced.push(at);
      return [{ client: "client.4133", address: "10.0.0.7:0/1849283344" }];
    },
  };
}

function volume(name: string, id: string): VolumeRecord {
  return {
    name,
    id,
    backend: "rbd",
    pool: "rbd",
    sizeBytes: 1 << 30,
    node: "node-a",
    phase: "Available",
    message: "",
    attachments: [],
    snapshots: [],
    createdAt: "2026-12-03T00:00:00.000Z",
  };
}

describe("a VM's volume sources", () => {
  it("fences a read-write RBD volume's other holders before the VM starts on it (attack: a lost node's qemu still writing), not a read-only one", async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    try {
      for (const v of [volume("data", "vol-00000000000000a1"), volume("seed", "vol-00000000000000a2")]) {
        const parts = createVolumeParts(v, []);
        await store.txn(parts);
      }
      const backend = recordingBackend();
      const spec = parseVmSpec({
        name: "web",
        kernel: "/k",
        volumes: [
          { name: "data", readOnly: false },
          { name: "seed", readOnly: true },
        ],
      });
      const attached = await volumeSources(store, [backend], "node-b", spec);
      expect(backend.fenced).toEqual([{ backend: "rbd", pool: "rbd", image: "vol-00000000000000a1" }]);
      expect(attached.map((a) => [a.name, a.readOnly, a.source.kind])).toEqual([
        ["data", false, "rbd"],
        ["seed", true, "rbd"],
      ]);
    } finally {
      await store.close();
    }
  });
});
