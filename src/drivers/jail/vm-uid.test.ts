import { chownSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claimVmUid, inVmRange, preferredUid, releaseVmUid } from "./vm-uid.js";

describe("per-VM uids", () => {
  let dir: string;
  let registry: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vm-uid-"));
    registry = join(dir, "registry");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function stateDir(name: string): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  it("gives two VMs two different uids in the VM range, and a VM the same uid again", async () => {
    const a = stateDir("a");
    const b = stateDir("b");
    const uidA = await claimVmUid(a, registry);
    const uidB = await claimVmUid(b, registry);
    expect(inVmRange(uidA) && inVmRange(uidB)).toBe(true);
    // The attack: two VMs sharing a uid could read each other's disks and signal each other's qemu.
    expect(uidA).not.toBe(uidB);
    expect(await claimVmUid(a, registry)).toBe(uidA);
    expect(readlinkSync(join(registry, String(uidA)))).toBe(a);
  });

  it("never hands out a uid that a live VM (another node's, even) holds, even if it would be this VM's first choice", async () => {
    const a = stateDir("a");
    const uidA = await claimVmUid(a, registry);
    chownSync(a, uidA, uidA);
    // A state dir elsewhere pretending to own uidA: its claim must not win over the live holder.
    const b = stateDir("b");
    chownSync(b, uidA, uidA);
    const uidB = await claimVmUid(b, registry);
    expect(uidB).not.toBe(uidA);
  });

  it("takes over a claim whose VM is gone, and frees a claim on release", async () => {
    const vm = stateDir("vm");
    mkdirSync(registry, { recursive: true });
    // A claim left behind by a VM removed while the node was down.
    symlinkSync(join(dir, "long-gone"), join(registry, String(preferredUid(vm))));
    const uid = await claimVmUid(vm, registry);
    expect(uid).toBe(preferredUid(vm));
    expect(readlinkSync(join(registry, String(uid)))).toBe(vm);
    await releaseVmUid(vm, uid, registry);
    expect(() => readlinkSync(join(registry, String(uid)))).toThrow();
  });
});
