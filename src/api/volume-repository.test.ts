import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isBlixardError } from "../core/errors.js";
import { keys } from "../core/keys.js";
import { nodeRecordCodec, vmEventCodec } from "../core/store-codecs.js";
import type { VmRecord } from "../core/vm-record.js";
import { decodeVmRecord, encodeVmRecord } from "../core/vm-record-codec.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { volumeRecordCodec } from "../core/volume.js";
import type { Store } from "../ports/store.js";
import { SeededRandom } from "../sim/seeded-random.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { VmRepository } from "./vm-repository.js";
import { VolumeRepository } from "./volume-repository.js";

const GiB = 1024 ** 3;

function vm(name: string, volumes: { name: string; readOnly?: boolean }[]): VmRecord {
  return {
    name,
    spec: parseVmSpec({ name, kernel: "/k", volumes }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: "2026-12-03T00:00:00.000Z",
  };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (isBlixardError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a refusal");
}

const stores: [string, (clock: ManualClock) => Promise<Store>][] = [
  ["memory", async (clock) => new MemoryStore({ clock })],
  ["sqlite", (clock) => SqliteStore.open({ path: ":memory:", clock })],
];

describe.each(stores)("volumes in the %s store", (_kind, open) => {
  let store: Store;
  let volumes: VolumeRepository;
  let vms: VmRepository;

  /** What the volume's node does once the bytes exist (agent/volume-agent.ts). */
  async function markAvailable(name: string): Promise<void> {
    const kv = (await store.get(keys.volume(name)))!;
    const record = volumeRecordCodec.decode(kv.value);
    if (!record.ok) throw new Error(record.problem);
    await store.put(kv.key, volumeRecordCodec.encode({ ...record.value, phase: "Available" }));
  }

  async function registerNode(id: string, volumeBytes?: number): Promise<void> {
    await store.put(
      keys.node(id),
      nodeRecordCodec.encode({
        id,
        apiUrl: "https://127.0.0.1:7000",
        labels: {},
        capacity: { vcpus: 4, memoryMiB: 4096, drivers: ["qemu"], ...(volumeBytes ? { volumeBytes } : {}) },
        startedAt: "2026-12-03T00:00:00.000Z",
      }),
    );
  }

  beforeEach(async () => {
    const clock = new ManualClock();
    store = await open(clock);
    volumes = new VolumeRepository(store, clock, new SeededRandom(1), "node-a");
    vms = new VmRepository(store, clock, "node-a");
    await registerNode("node-a", 10 * GiB);
    await volumes.create({ name: "data", sizeBytes: GiB, backend: "local" }, "alice");
    await markAvailable("data");
  });

  afterEach(async () => {
    await store.close();
  });

  it("creates a volume Creating on the API's node, with a derived id and an event naming the actor", async () => {
    const data = await volumes.get("data");
    expect(data).toMatchObject({ name: "data", node: "node-a", backend: "local", sizeBytes: GiB });
    expect(data.id).toMatch(/^vol-[0-9a-f]{16}$/);
    const events = (await store.range(keys.eventsPrefix)).kvs.map((kv) => vmEventCodec.decode(kv.value));
    expect(events).toContainEqual({
      ok: true,
      value: expect.objectContaining({ type: "volume-created", vm: "data", actor: "alice" }),
    });
  });

  it("refuses a second volume of the same name", async () => {
    const refused = await refusal(volumes.create({ name: "data", sizeBytes: GiB, backend: "local" }));
    expect(refused.code).toBe("ALREADY_EXISTS");
  });

  it("refuses a local volume that does not fit its node's free space, naming the space left", async () => {
    const refused = await refusal(volumes.create({ name: "big", sizeBytes: 10 * GiB, backend: "local" }));
    expect(refused).toMatchObject({ code: "FAILED_PRECONDITION" });
    expect(refused.message).toContain("9 GiB left");
    expect(await store.get(keys.volume("big"))).toBeUndefined();
  });

  it("refuses a local volume on a node that is not registered", async () => {
    const refused = await refusal(
      volumes.create({ name: "x", sizeBytes: GiB, backend: "local", node: "node-zz" }),
    );
    expect(refused.code).toBe("INVALID_ARGUMENT");
  });

  it("attaches a volume in the VM's create and shows it Attached to that VM", async () => {
    await vms.create(vm("web", [{ name: "data" }]));
    expect((await volumes.get("data")).state).toBe("Attached to web on no node yet");
    // The scheduler places the VM on the volume's node only (core/placement.ts).
    const stored = decodeVmRecord("web", (await store.get(keys.vm("web")))!.value);
    expect(stored.ok && stored.record.volumeNode).toEqual({ volume: "data", node: "node-a" });
  });

  it("refuses a VM naming a volume that does not exist or is not Available, creating nothing", async () => {
    await volumes.create({ name: "fresh", sizeBytes: GiB, backend: "local" });
    const missing = await refusal(vms.create(vm("a", [{ name: "nope" }])));
    expect(missing).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(missing.message).toContain("spec.volumes.0.name");
    const creating = await refusal(vms.create(vm("b", [{ name: "fresh" }])));
    expect(creating.message).toContain("volume fresh is Creating");
    expect(await store.get(keys.vm("a"))).toBeUndefined();
    expect(await store.get(keys.vm("b"))).toBeUndefined();
  });

  it("refuses a second read-write attach, naming the VM that holds the volume", async () => {
    await vms.create(vm("web", [{ name: "data" }]));
    const refused = await refusal(vms.create(vm("other", [{ name: "data" }])));
    expect(refused.code).toBe("FAILED_PRECONDITION");
    expect(refused.message).toContain("attached read-write to VM web");
    expect(await store.get(keys.vm("other"))).toBeUndefined();
  });

  it("shares a read-only volume among VMs, and refuses a read-write attach beside them", async () => {
    await vms.create(vm("r1", [{ name: "data", readOnly: true }]));
    await vms.create(vm("r2", [{ name: "data", readOnly: true }]));
    expect((await volumes.get("data")).state).toBe(
      "Attached to r1 (ro) on no node yet, r2 (ro) on no node yet",
    );
    const refused = await refusal(vms.create(vm("w", [{ name: "data" }])));
    expect(refused.message).toContain("attached read-only to VM r1, r2");
  });

  it("refuses a read-only attach while a VM holds the volume read-write", async () => {
    await vms.create(vm("w", [{ name: "data" }]));
    const refused = await refusal(vms.create(vm("r", [{ name: "data", readOnly: true }])));
    expect(refused.message).toContain("attached read-write to VM w");
  });

  it("of two concurrent creates claiming one read-write volume, exactly one succeeds", async () => {
    // Both creates read the volume free before either commits: their first transactions are held
    // until both are in, so the compare-and-swap on the volume's record alone decides.
    let waiting: (() => void)[] = [];
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "txn") return Reflect.get(target, prop, receiver);
        return async (req: Parameters<Store["txn"]>[0]) => {
          if (waiting.length < 1) await new Promise<void>((resolve) => waiting.push(resolve));
          else for (const release of waiting.splice(0)) release();
          return target.txn(req);
        };
      },
    });
    const racers = [
      new VmRepository(racing, new ManualClock(), "a"),
      new VmRepository(racing, new ManualClock(), "b"),
    ];
    for (let round = 0; round < 5; round++) {
      const name = `v${round}`;
      await volumes.create({ name, sizeBytes: GiB, backend: "local" });
      await markAvailable(name);
      waiting = [];
      const results = await Promise.allSettled([
        racers[0]!.create(vm(`a${round}`, [{ name }])),
        racers[1]!.create(vm(`b${round}`, [{ name }])),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(String(lost.reason)).toContain("attached read-write to VM");
      const record = volumeRecordCodec.decode((await store.get(keys.volume(name)))!.value);
      expect(record.ok && record.value.attachments).toHaveLength(1);
    }
  });

  it("frees the volume when the VM's record is gone, without a write to the volume", async () => {
    await vms.create(vm("web", [{ name: "data" }]));
    await store.delete(keys.vm("web"));
    expect((await volumes.get("data")).state).toBe("Available");
    await vms.create(vm("next", [{ name: "data" }]));
    expect((await volumes.get("data")).attachments.map((a) => a.vm)).toEqual(["next"]);
  });

  it("keeps the claim of a VM recreated under the same name only if it names the volume again", async () => {
    await vms.create(vm("web", [{ name: "data" }]));
    await store.delete(keys.vm("web"));
    await store.put(keys.vm("web"), encodeVmRecord(vm("web", [])));
    expect((await volumes.get("data")).state).toBe("Available");
  });

  it("refuses to delete an attached volume, naming the VM, and deletes it once free", async () => {
    await vms.create(vm("web", [{ name: "data" }]));
    const refused = await refusal(volumes.delete("data"));
    expect(refused.code).toBe("FAILED_PRECONDITION");
    expect(refused.message).toContain("attached to VM web");
    expect((await volumes.get("data")).phase).toBe("Available");
    await store.delete(keys.vm("web"));
    expect((await volumes.delete("data")).phase).toBe("Deleting");
    const late = await refusal(vms.create(vm("late", [{ name: "data" }])));
    expect(late.message).toContain("volume data is Deleting");
  });

  it("records snapshot requests once, and clones only a snapshot that was taken", async () => {
    await volumes.snapshot("data", "s1");
    expect((await refusal(volumes.snapshot("data", "s1"))).code).toBe("ALREADY_EXISTS");
    expect((await refusal(volumes.clone("data", "s1", "copy"))).message).toContain("not taken yet");
    const kv = (await store.get(keys.volume("data")))!;
    const record = volumeRecordCodec.decode(kv.value);
    if (!record.ok) throw new Error(record.problem);
    await store.put(
      kv.key,
      volumeRecordCodec.encode({
        ...record.value,
        snapshots: [{ ...record.value.snapshots[0]!, ready: true }],
      }),
    );
    const copy = await volumes.clone("data", "s1", "copy");
    expect(copy).toMatchObject({
      phase: "Creating",
      node: "node-a",
      from: { volume: "data", id: record.value.id, snapshot: "s1" },
    });
    expect(copy.id).not.toBe(record.value.id);
  });
});
