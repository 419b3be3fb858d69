import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { VmSpec } from "../../core/vm-spec.js";
import { silentLogger } from "../../ports/logger.js";
import type { StartedVm, StopMethod, VmRuntime } from "../../ports/vm-driver.js";
import { ManualClock } from "../../testing/manual-clock.js";
import { deleteQuarantined, listQuarantine, quarantineDirFor } from "./quarantine.js";
import { StateDirDriver, type StateDirFiles } from "./state-dir-driver.js";

/** The shared state-dir behaviour with no hypervisor: every VM is down. */
class DownDriver extends StateDirDriver {
  readonly name = "down";
  constructor(vmsDir: string, clock: ManualClock) {
    super(silentLogger, vmsDir, clock);
  }
  async prepare(_name: string, _spec: VmSpec): Promise<void> {}
  async start(): Promise<StartedVm> {
    throw new Error("not in this test");
  }
  async stop(): Promise<StopMethod> {
    return "not-running";
  }
  async inspect(): Promise<VmRuntime> {
    return { state: "absent" };
  }
  protected files(name: string): StateDirFiles {
    const stateDir = join(this.vmsDir, name);
    return { stateDir, consoleLog: join(stateDir, "console.log") };
  }
}

describe("quarantine of orphaned state dirs", () => {
  let root: string;
  let vmsDir: string;
  let driver: DownDriver;
  const clock = new ManualClock(Date.UTC(2026, 11, 3, 7, 0, 0));
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "blixard-quarantine-"));
    vmsDir = join(root, "vms");
    mkdirSync(join(vmsDir, "web"), { recursive: true });
    // The guest's writes live in its overlay: the only copy after a failover.
    writeFileSync(join(vmsDir, "web", "disk.qcow2"), "the guest's only copy of its writes");
    driver = new DownDriver(vmsDir, clock);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  // The accident it stops: an orphan (record gone, or moved to another node) had its state dir, qcow2
  // overlay included, rm -rf'ed silently.
  it("moves an orphan's state dir aside, overlay intact, with a note saying why", async () => {
    await driver.remove("web", { quarantine: { reason: "no record assigns it to this node" } });
    expect(existsSync(join(vmsDir, "web"))).toBe(false);
    expect(await driver.list()).toEqual([]);
    const [entry, ...more] = await listQuarantine(quarantineDirFor(vmsDir));
    expect(more).toEqual([]);
    expect(entry).toMatchObject({
      entry: "web-2026-12-03T07-00-00-000Z",
      vm: "web",
      at: "2026-12-03T07:00:00.000Z",
      reason: "no record assigns it to this node",
    });
    expect(entry!.path).toBe(join(root, "quarantine", entry!.entry));
    expect(readFileSync(join(entry!.path, "state", "disk.qcow2"), "utf8")).toBe(
      "the guest's only copy of its writes",
    );
    expect(entry!.bytes).toBeGreaterThan(0);
  });

  it("keeps both when the same VM is quarantined twice in one instant", async () => {
    await driver.remove("web", { quarantine: { reason: "first" } });
    mkdirSync(join(vmsDir, "web"));
    await driver.remove("web", { quarantine: { reason: "second" } });
    const entries = await listQuarantine(quarantineDirFor(vmsDir));
    expect(entries.map((e) => e.reason).sort()).toEqual(["first", "second"]);
  });

  it("still deletes when asked to (a user's delete)", async () => {
    await driver.remove("web");
    expect(existsSync(join(vmsDir, "web"))).toBe(false);
    expect(await listQuarantine(quarantineDirFor(vmsDir))).toEqual([]);
  });

  it("deletes a quarantined dir only when named, and nothing outside the quarantine dir", async () => {
    await driver.remove("web", { quarantine: { reason: "orphan" } });
    const quarantine = quarantineDirFor(vmsDir);
    const [entry] = await listQuarantine(quarantine);
    // The attack: a name that walks out of the quarantine dir to delete the node's store or VMs.
    writeFileSync(join(root, "store.db"), "the store");
    await expect(deleteQuarantined(quarantine, "../store.db")).rejects.toThrow(/is not an entry of/);
    await expect(deleteQuarantined(quarantine, "..")).rejects.toThrow(/is not an entry of/);
    await expect(deleteQuarantined(quarantine, "web-nope")).rejects.toThrow(/nothing named web-nope/);
    expect(existsSync(join(root, "store.db"))).toBe(true);
    await deleteQuarantined(quarantine, entry!.entry);
    expect(await listQuarantine(quarantine)).toEqual([]);
  });
});
