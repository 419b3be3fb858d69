import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
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

  it("gives the state dir and what qemu writes to the VM's uid alone, and shows it the inputs at /in/", async () => {
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
    expect(jailed.plan.view?.entries.filter((e) => e.target.startsWith("/in/"))).toEqual([
      { kind: "ro-file", source: "/root/images/vmlinux", target: "/in/kernel" },
      { kind: "ro-file", source: "/root/images/initrd.img", target: "/in/initrd" },
    ]);
    expect(jailed.plan.view?.entries).toContainEqual({ kind: "rw-dir", source: stateDir, target: stateDir });
    expect(jailed.plan.view?.wd).toBe(stateDir);
    expect(jailed.inputs).toEqual({ kernel: "/in/kernel", initrd: "/in/initrd" });
    // Nothing is made in the state dir the VM owns (a VM could plant links there).
    expect(readdirSync(stateDir).sort()).toEqual(["console.log", "vm.json"]);
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
    const jailed = await jail.enter(
      "web",
      stateDir,
      { memory: 256, vcpus: 1 },
      {},
      { writable: ["var.img"], readOnlyDirs: ["/srv/runners/abc-microvm-run"] },
    );
    expect(jailed.inputs).toEqual({});
    expect(jailed.plan.view?.entries.filter((e) => e.target.startsWith("/in/"))).toEqual([]);
    expect(jailed.plan.view?.entries).toContainEqual({
      kind: "ro-dir",
      source: "/srv/runners/abc-microvm-run",
      target: "/srv/runners/abc-microvm-run",
    });
    for (const file of ["disk.img", "var.img"]) {
      const info = statSync(join(stateDir, file));
      expect([info.uid, info.mode & 0o777]).toEqual([jailed.uid, 0o600]);
    }
    // The attack: a taken-over runner rewriting the node's build record to point at another runner.
    expect(statSync(join(stateDir, "build.json")).uid).toBe(0);
  });

  it.runIf(existsSync("/dev/kvm"))(
    "gives a KVM VM a /dev/kvm node of its own in its view, and a TCG VM none",
    async () => {
      const jail = new VmJail({ mountNamespace: true, uidRegistry: join(dir, "uids") });
      const kvm = await jail.enter("web", stateDir, { memory: 256, vcpus: 1 }, {}, { devices: ["/dev/kvm"] });
      const rdev = statSync("/dev/kvm").rdev;
      expect(kvm.plan.view?.owner).toBe(kvm.uid);
      expect(kvm.plan.view?.entries).toContainEqual({
        kind: "chr",
        source: `${Math.floor(rdev / 256) & 0xfff}:${rdev & 0xff}`,
        target: "/dev/kvm",
      });
      const tcgDir = join(dir, "vms", "tcg");
      mkdirSync(tcgDir, { mode: 0o700 });
      const tcg = await jail.enter("tcg", tcgDir, { memory: 256, vcpus: 1 }, {});
      expect(tcg.plan.view?.entries.map((e) => e.target)).not.toContain("/dev/kvm");
    },
  );
});
