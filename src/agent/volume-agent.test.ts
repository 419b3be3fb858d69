import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VolumeRepository } from "../api/volume-repository.js";
import { keys } from "../core/keys.js";
import { nodeRecordCodec, vmEventCodec } from "../core/store-codecs.js";
import { silentLogger } from "../ports/logger.js";
import { SeededRandom } from "../sim/seeded-random.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { LocalVolumeBackend } from "../volumes/local/local-backend.js";
import { holdsPattern, writePattern } from "../volumes/volume-backend.contract.js";
import { VolumeAgent } from "./volume-agent.js";

const MiB = 1024 ** 2;

describe("the volume agent", () => {
  let dir: string;
  let store: MemoryStore;
  let repo: VolumeRepository;
  let agent: VolumeAgent;
  let backend: LocalVolumeBackend;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "blixard-volume-agent-"));
    const clock = new ManualClock();
    store = new MemoryStore({ clock });
    for (const id of ["node-a", "node-b"]) {
      await store.put(
        keys.node(id),
        nodeRecordCodec.encode({
          id,
          apiUrl: "https://127.0.0.1:7000",
          labels: {},
          capacity: { vcpus: 1, memoryMiB: 1024, drivers: ["qemu"] },
          startedAt: "2026-12-03T00:00:00.000Z",
        }),
      );
    }
    repo = new VolumeRepository(store, clock, new SeededRandom(7), "node-a");
    backend = new LocalVolumeBackend({ dir: join(dir, "volumes") });
    agent = new VolumeAgent({ nodeId: "node-a", store, clock, logger: silentLogger, backends: [backend] });
    await agent.start();
  });

  afterEach(async () => {
    agent.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Waits until the agent has taken in and acted on every write so far. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      await agent.idle();
    }
  }

  it("creates the bytes of its node's volume and marks it Available, and leaves other nodes' alone", async () => {
    const mine = await repo.create({ name: "data", sizeBytes: 16 * MiB, backend: "local" });
    const theirs = await repo.create({ name: "far", sizeBytes: 16 * MiB, backend: "local", node: "node-b" });
    await settle();
    expect((await repo.get("data")).phase).toBe("Available");
    expect(existsSync(join(dir, "volumes", `${mine.id}.qcow2`))).toBe(true);
    expect((await repo.get("far")).phase).toBe("Creating");
    expect(existsSync(join(dir, "volumes", `${theirs.id}.qcow2`))).toBe(false);
  });

  it("marks a volume Failed, saying why, when this node lacks its backend", async () => {
    await repo.create({ name: "ceph", sizeBytes: 16 * MiB, backend: "rbd", pool: "rbd" });
    await settle();
    expect(await repo.get("ceph")).toMatchObject({
      phase: "Failed",
      message: expect.stringContaining("no rbd backend"),
    });
  });

  it("takes an asked-for snapshot, clones it, and removes the bytes and the record on delete", async () => {
    const data = await repo.create({ name: "data", sizeBytes: 16 * MiB, backend: "local" });
    await settle();
    const source = backend.source({ backend: "local", image: data.id }, false);
    await writePattern(source, 0, MiB, 0x42);
    await repo.snapshot("data", "s1");
    await settle();
    expect((await repo.get("data")).snapshots).toEqual([
      expect.objectContaining({ name: "s1", ready: true }),
    ]);
    const copy = await repo.clone("data", "s1", "copy");
    await settle();
    expect((await repo.get("copy")).phase).toBe("Available");
    expect(
      await holdsPattern(backend.source({ backend: "local", image: copy.id }, false), 0, MiB, 0x42),
    ).toBe(true);
    await repo.delete("data");
    await settle();
    expect(await store.get(keys.volume("data"))).toBeUndefined();
    expect(existsSync(source.kind === "file" ? source.path : "")).toBe(false);
    const types = (await store.range(keys.eventsPrefix)).kvs.flatMap((kv) => {
      const e = vmEventCodec.decode(kv.value);
      return e.ok && e.value.vm === "data" ? [e.value.type] : [];
    });
    // Keys sort by time, then writer: the clock stands still here, so compare as a set of changes.
    expect(types.sort()).toEqual(
      [
        "volume-created",
        "volume-available",
        "volume-snapshotted",
        "volume-snapshotted",
        "volume-deleting",
        "volume-deleted",
      ].sort(),
    );
  });
});
