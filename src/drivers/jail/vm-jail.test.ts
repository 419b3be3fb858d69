import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VmJail } from "./vm-jail.js";
import { inVmRange, VM_GROUP } from "./vm-uid.js";

const root = process.getuid?.() === 0;

describe.runIf(root)("VM jail setup (needs root, as the jail does)", () => {
  let dir: string;
  let stateDir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vm-jail-"));
    stateDir = join(dir, "vms", "web");
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the state dir and what qemu writes to the VM's uid alone, and binds the inputs read-only", async () => {
    // Left by an earlier unjailed run: world-readable, root's.
    writeFileSync(join(stateDir, "console.log"), "old boot\n", { mode: 0o644 });
    writeFileSync(join(stateDir, "vm.json"), "{}", { mode: 0o600 });
    const jail = new VmJail({ mountNamespace: true, uidRegistry: join(dir, "uids") });
    const jailed = await jail.enter(
      "web",
      stateDir,
      { memory: 256, vcpus: 1 },
      {
        kernel: "/root/images/vmlinux",
        initrd: "/root/images/initrd.img",
      },
    );
    expect(inVmRange(jailed.uid)).toBe(true);
    const info = statSync(stateDir);
    expect([info.uid, info.mode & 0o777]).toEqual([jailed.uid, 0o700]);
    // The attack: another VM (another uid) or local user reading this guest's console or disk.
    const log = statSync(join(stateDir, "console.log"));
    expect([log.uid, log.mode & 0o777]).toEqual([jailed.uid, 0o600]);
    expect(readFileSync(join(stateDir, "console.log"), "utf8")).toBe("old boot\n");
    // The node's own record stays root's.
    expect(statSync(join(stateDir, "vm.json")).uid).toBe(0);
    expect(jailed.plan.binds).toEqual([
      { source: "/root/images/vmlinux", target: join(stateDir, "in", "kernel") },
      { source: "/root/images/initrd.img", target: join(stateDir, "in", "initrd") },
    ]);
    expect(jailed.inputs).toEqual({
      kernel: join(stateDir, "in", "kernel"),
      initrd: join(stateDir, "in", "initrd"),
    });
    // Placeholders are root's and read-only, so the VM cannot swap what gets mounted over them.
    const placeholder = statSync(join(stateDir, "in", "kernel"));
    expect([placeholder.uid, placeholder.mode & 0o777]).toEqual([0, 0o444]);
    expect(jailed.plan).toMatchObject({
      uid: jailed.uid,
      gid: jailed.uid,
      groups: [VM_GROUP],
      cgroupProcs: [],
    });
  });

  it("gives a VM the same uid on its next start", async () => {
    const jail = new VmJail({ mountNamespace: false, uidRegistry: join(dir, "uids") });
    const first = await jail.enter("web", stateDir, { memory: 256, vcpus: 1 }, { kernel: "/k" });
    const second = await jail.enter("web", stateDir, { memory: 256, vcpus: 1 }, { kernel: "/k" });
    expect(second.uid).toBe(first.uid);
    expect(second.inputs).toEqual({ kernel: "/k" });
  });

  it("jails a microvm.nix runner: no inputs to bind, and its disk image and volumes given to the VM's uid", async () => {
    // Copied or created by the node (root) before the first jailed start.
    writeFileSync(join(stateDir, "disk.img"), "", { mode: 0o644 });
    writeFileSync(join(stateDir, "var.img"), "", { mode: 0o644 });
    writeFileSync(join(stateDir, "build.json"), "{}", { mode: 0o600 });
    const jail = new VmJail({ mountNamespace: true, uidRegistry: join(dir, "uids") });
    const jailed = await jail.enter("web", stateDir, { memory: 256, vcpus: 1 }, {}, ["var.img"]);
    expect(jailed.inputs).toEqual({});
    expect(jailed.plan.binds).toEqual([]);
    expect(jailed.plan.mountNamespace).toBe(true);
    for (const file of ["disk.img", "var.img"]) {
      const info = statSync(join(stateDir, file));
      expect([info.uid, info.mode & 0o777]).toEqual([jailed.uid, 0o600]);
    }
    // The attack: a taken-over runner rewriting the node's build record to point at another runner.
    expect(statSync(join(stateDir, "build.json")).uid).toBe(0);
  });
});
