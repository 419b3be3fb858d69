import { describe, expect, it } from "vitest";
import { keys } from "../core/keys.js";
import { parseVmSpec } from "../core/vm-spec.js";
import { silentLogger } from "../ports/logger.js";
import { MemoryStore } from "../store/memory/memory-store.js";
import { ManualClock } from "../testing/manual-clock.js";
import { scheduledOf } from "../testing/seed-vms.js";
import { migrateLegacyPlacements } from "./legacy-placements.js";

const legacy = (name: string, extra: Record<string, unknown>) =>
  JSON.stringify({
    name,
    spec: parseVmSpec({ name, kernel: "/k" }),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt: "2026-11-01T00:00:00.000Z",
    ...extra,
  });

describe("migrateLegacyPlacements", () => {
  it("moves inline placements to their own keys, gives each placed VM its node's assignment, once", async () => {
    const store = new MemoryStore({ clock: new ManualClock() });
    await store.put(keys.vm("web"), legacy("web", { node: "n1", epoch: 3 }));
    await store.put(keys.vm("big"), legacy("big", { node: "", unschedulable: "no room" }));
    await store.put(keys.vm("moved"), legacy("moved", { node: "", epoch: 2, handoffFrom: "n2" }));
    await store.put(keys.vm("new"), legacy("new", {}));
    // Not a record any API could have written, with or without the fields: left for refusal.
    await store.put(keys.vm("evil"), legacy("evil", { node: "n1", runAs: "root" }));

    expect(await migrateLegacyPlacements(store, silentLogger)).toBe(3);

    expect(await scheduledOf(store, "web")).toMatchObject({ node: "n1", epoch: 3 });
    expect(await scheduledOf(store, "big")).toMatchObject({ node: "", unschedulable: "no room" });
    expect(await scheduledOf(store, "moved")).toMatchObject({ node: "", epoch: 2, handoffFrom: "n2" });
    expect(JSON.parse((await store.get(keys.vm("web")))!.value)).not.toHaveProperty("node");
    // Without its assignment the node's agent would take the running VM for an orphan and stop it.
    const assignment = JSON.parse((await store.get(keys.assignment("n1", "web")))!.value);
    expect(assignment).toMatchObject({ epoch: 3, record: { name: "web" } });
    expect((await store.range(keys.assignmentsPrefix)).kvs).toHaveLength(1);
    // The leader's scheduler copies the record once more (recordRevision 0 is never current).
    expect(JSON.parse((await store.get(keys.placement("web")))!.value).recordRevision).toBe(0);
    expect(await store.get(keys.placement("new"))).toBeUndefined();
    expect(await store.get(keys.placement("evil"))).toBeUndefined();

    // A second node starting later finds nothing to move.
    const revision = await store.revision();
    expect(await migrateLegacyPlacements(store, silentLogger)).toBe(0);
    expect(await store.revision()).toBe(revision);
  });
});
