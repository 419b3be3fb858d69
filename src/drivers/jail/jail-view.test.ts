import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jailedCommand } from "./jail-command.js";
import {
  deviceNumbers,
  hostCwdCandidates,
  probeSystemDirs,
  VIEW_MOUNTPOINT,
  viewEntries,
} from "./jail-view.js";
import { baseDevices, ensureSkeleton, skeletonPlan } from "./skeleton.js";

describe("a VM's filesystem view", () => {
  const system = [
    { path: "/usr", kind: "dir" as const },
    { path: "/bin", link: "usr/bin" },
    { path: "/etc/ld.so.cache", kind: "file" as const },
  ];

  it("holds the system dirs read-only, the base devices, the state dir and the inputs at /in/", () => {
    const view = viewEntries({
      stateDir: "/var/lib/blixard/vms/web",
      system,
      inputs: { kernel: "/var/lib/blixard/images/vmlinux", disk: "/srv/base.qcow2" },
      owner: 2_000_000_100,
      ownDevices: [{ path: "/dev/kvm", device: "10:232" }],
    });
    expect(view.mountpoint).toBe(VIEW_MOUNTPOINT);
    expect(view.wd).toBe("/var/lib/blixard/vms/web");
    expect(view.entries.map((e) => `${e.kind} ${e.source} ${e.target}`)).toEqual([
      "ro-dir /usr /usr",
      "link usr/bin /bin",
      "ro-file /etc/ld.so.cache /etc/ld.so.cache",
      "dev /dev/null /dev/null",
      "dev /dev/zero /dev/zero",
      "dev /dev/full /dev/full",
      "dev /dev/random /dev/random",
      "dev /dev/urandom /dev/urandom",
      "chr 10:232 /dev/kvm",
      "rw-dir /var/lib/blixard/vms/web /var/lib/blixard/vms/web",
      "ro-file /var/lib/blixard/images/vmlinux /in/kernel",
      "ro-file /srv/base.qcow2 /in/disk",
    ]);
  });

  it("binds a program or a runner's package outside the system dirs, and nothing twice", () => {
    const view = viewEntries({
      stateDir: "/vms/web",
      system,
      inputs: {},
      owner: 2_000_000_100,
      programs: ["/usr/bin/qemu-system-x86_64", "/opt/qemu/bin/qemu", "qemu-system-x86_64"],
      readOnlyDirs: ["/nix/store/abc-microvm-run", "/usr/share/x"],
    });
    const extra = view.entries.filter((e) => !["/usr", "/bin", "/etc/ld.so.cache"].includes(e.target));
    expect(extra.filter((e) => e.kind !== "dev").map((e) => `${e.kind} ${e.target}`)).toEqual([
      "ro-dir /nix/store/abc-microvm-run",
      "ro-file /opt/qemu/bin/qemu",
      "rw-dir /vms/web",
    ]);
  });

  it("reads a device's numbers from its rdev", () => {
    expect(deviceNumbers(10 * 256 + 232)).toBe("10:232");
    expect(deviceNumbers(1 * 256 + 3)).toBe("1:3");
    // A minor number past 255 (Linux keeps its high bits above the major's).
    expect(deviceNumbers((4 << 8) | 0x20 | (0x1 << 20))).toBe("4:288");
  });

  it("knows a jailed process's working directory as the host shows it", () => {
    expect(hostCwdCandidates("/vms/web")).toEqual(["/vms/web", `${VIEW_MOUNTPOINT}/vms/web`]);
  });
});

const root = process.getuid?.() === 0;
const VM_UID = 2_000_000_901;

/** Run `sh -c script args...` as a VM uid inside a view; returns its stdout, stderr and status. */
function runInView(view: ReturnType<typeof viewEntries>, script: string, args: string[]) {
  const argv = jailedCommand({ uid: VM_UID, gid: VM_UID, groups: [], cgroupProcs: [], view }, "sh", [
    "-c",
    script,
    "probe",
    ...args,
  ]);
  mkdirSync(VIEW_MOUNTPOINT, { recursive: true });
  return spawnSync(argv[0]!, argv.slice(1), {
    encoding: "utf8",
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
}

describe.runIf(root)("a jailed process in its view (needs root, as the jail does)", () => {
  let dir: string;
  let dataDir: string;
  let stateDir: string;
  let token: string;
  let otherVm: string;
  let kernel: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "jail-view-"));
    dataDir = join(dir, "data");
    stateDir = join(dataDir, "vms", "web");
    otherVm = join(dataDir, "vms", "other", "console.log");
    mkdirSync(stateDir, { recursive: true });
    mkdirSync(join(dataDir, "vms", "other"), { recursive: true });
    mkdirSync(join(dataDir, "images"));
    token = join(dataDir, "token");
    writeFileSync(token, "blx_admin_secret\n", { mode: 0o600 });
    // Readable by anyone, so that only the view (not permissions) can keep the VM from it.
    writeFileSync(otherVm, "another tenant's console\n", { mode: 0o644 });
    kernel = join(dataDir, "images", "vmlinux");
    writeFileSync(kernel, "KERNEL\n", { mode: 0o644 });
    chownSync(stateDir, VM_UID, VM_UID);
    chmodSync(stateDir, 0o700);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("sees its inputs and state dir and nothing else of the host: no data dir, other VMs, /etc, /home, /proc", () => {
    const view = viewEntries({ stateDir, system: probeSystemDirs(), inputs: { kernel }, owner: VM_UID });
    // The attack: a guest that took over qemu looks for the node's token, another VM's files, the
    // host's accounts and processes. Each exists on the host (checked), and none is in the view.
    const targets = [
      token,
      otherVm,
      join(dataDir, "images"),
      "/etc/passwd",
      "/root",
      "/var/log",
      "/etc/shadow",
      "/home",
      "/proc/1/status",
      "/sys/kernel",
      "/run",
    ];
    for (const t of targets.slice(0, 6)) expect(existsSync(t)).toBe(true);
    const script = [
      'for p in "$@"; do [ -e "$p" ] && echo "SEES $p"; done',
      "cat /in/kernel",
      'echo mine > own.txt && echo "WROTE own"',
      '(echo x > /in/kernel) 2>/dev/null && echo "WROTE kernel"',
      '(echo x > /planted) 2>/dev/null && echo "WROTE root"',
      "pwd; id -u; ls /",
    ].join("\n");
    const res = runInView(view, script, targets);
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines.filter((l) => l.startsWith("SEES"))).toEqual([]);
    expect(lines).toContain("KERNEL");
    expect(lines).toContain("WROTE own");
    expect(lines).not.toContain("WROTE kernel");
    expect(lines).not.toContain("WROTE root");
    expect(lines).toContain(stateDir);
    expect(lines).toContain("2000000901");
    // The root holds exactly the top-level dirs of the view's entries.
    const tops = [...new Set(view.entries.map((e) => e.target.split("/")[1]!))].sort();
    expect(lines.slice(lines.indexOf("2000000901") + 1).sort()).toEqual(tops);
    // What it wrote is in its real state dir; the host's kernel is untouched.
    expect(readFileSync(join(stateDir, "own.txt"), "utf8")).toBe("mine\n");
    expect(readFileSync(kernel, "utf8")).toBe("KERNEL\n");
  });

  it("builds the same view from a prepared skeleton: links, devices and mountpoints copied in one go", async () => {
    const system = probeSystemDirs();
    const skeleton = await ensureSkeleton(dir, skeletonPlan(system, await baseDevices()));
    const withSkeleton = viewEntries({ stateDir, system, inputs: { kernel }, owner: VM_UID, skeleton });
    const without = viewEntries({ stateDir, system, inputs: { kernel }, owner: VM_UID });
    // Fewer entries to make one by one: no links, no device binds.
    expect(withSkeleton.entries.filter((e) => e.kind === "link" || e.kind === "dev")).toEqual([]);
    const script = [
      'for p in "$@"; do [ -e "$p" ] && echo "SEES $p"; done',
      "cat /in/kernel",
      "echo discard > /dev/null && head -c 4 /dev/urandom | wc -c",
      "ls / | sort | tr '\\n' ' '; echo",
      "ls -l /dev | tail -n +2 | cut -c1-10 | sort -u | tr '\\n' ' '",
    ].join("\n");
    const a = runInView(withSkeleton, script, [token, "/etc/passwd"]);
    const b = runInView(without, script, [token, "/etc/passwd"]);
    expect(a.stderr).toBe("");
    expect(a.status).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toMatch(/^KERNEL\n4\n/);
  });

  it("makes the view in a fresh tmpfs: a symlink the VM plants in its state dir redirects nothing", () => {
    // The attack: the VM owns its state dir, so it can leave `in` (where inputs used to be bound) as
    // a link to the node's data dir, hoping the next start writes or mounts through it.
    symlinkSync(dataDir, join(stateDir, "in"));
    const before = readdirSync(dataDir).sort();
    const view = viewEntries({ stateDir, system: probeSystemDirs(), inputs: { kernel }, owner: VM_UID });
    const res = runInView(view, 'cat /in/kernel; [ -e "$1" ] && echo SEES; true', [token]);
    expect(res.status).toBe(0);
    expect(res.stdout).toBe("KERNEL\n");
    expect(readdirSync(dataDir).sort()).toEqual(before);
    expect(readFileSync(token, "utf8")).toBe("blx_admin_secret\n");
  });

  it("refuses to run the program when a part of its view cannot be made", () => {
    const view = viewEntries({
      stateDir,
      system: probeSystemDirs(),
      inputs: { kernel: join(dir, "missing") },
      owner: VM_UID,
    });
    const res = runInView(view, "echo RAN", []);
    expect(res.status).toBe(126);
    expect(res.stdout).toBe("");
  });

  it.runIf(existsSync("/dev/kvm"))("gives a KVM VM a /dev/kvm of its own uid's, and a TCG VM none", () => {
    const kvm = statSync("/dev/kvm");
    const device = deviceNumbers(kvm.rdev);
    const probe = "(exec 3<>/dev/kvm) 2>/dev/null && echo OPENED; [ -e /dev/kvm ] || echo ABSENT; true";
    const withKvm = viewEntries({
      stateDir,
      system: probeSystemDirs(),
      inputs: {},
      owner: VM_UID,
      ownDevices: [{ path: "/dev/kvm", device }],
    });
    expect(runInView(withKvm, probe, []).stdout).toBe("OPENED\n");
    // The host's own node is unchanged (root's, whatever its mode), so other uids gain nothing.
    const after = statSync("/dev/kvm");
    expect([after.uid, after.gid, after.mode]).toEqual([kvm.uid, kvm.gid, kvm.mode]);
    const without = viewEntries({ stateDir, system: probeSystemDirs(), inputs: {}, owner: VM_UID });
    expect(runInView(without, probe, []).stdout).toBe("ABSENT\n");
  });
});
