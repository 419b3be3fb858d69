import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type JailPlan, JOIN_CGROUPS_SCRIPT, jailedCommand } from "./jail-command.js";

const plan: JailPlan = {
  uid: 2_000_000_123,
  gid: 2_000_000_123,
  groups: [1_999_999_999],
  cgroupProcs: [
    "/sys/fs/cgroup/memory/blixard/n/web/cgroup.procs",
    "/sys/fs/cgroup/pids/blixard/n/web/cgroup.procs",
  ],
  view: {
    mountpoint: "/run/blixard/jail-root",
    wd: "/vms/web",
    owner: 2_000_000_123,
    entries: [
      { kind: "link", source: "usr/bin", target: "/bin" },
      { kind: "ro-dir", source: "/usr", target: "/usr" },
      { kind: "dev", source: "/dev/null", target: "/dev/null" },
      { kind: "chr", source: "10:232", target: "/dev/kvm" },
      { kind: "rw-dir", source: "/vms/web", target: "/vms/web" },
      { kind: "ro-file", source: "/root/images/vmlinux", target: "/in/kernel" },
    ],
  },
};

describe("jailed command", () => {
  it("joins the cgroups, then a mount namespace with the VM's view, then drops to the VM uid with no capabilities", () => {
    expect(jailedCommand(plan, "qemu-system-x86_64", ["-M", "microvm"])).toMatchInlineSnapshot(`
      [
        "/bin/sh",
        "-c",
        "while [ "$1" != -- ]; do echo $$ >"$1" || exit 126; shift; done; shift; umask 077; exec "$@"",
        "blixard-jail",
        "/sys/fs/cgroup/memory/blixard/n/web/cgroup.procs",
        "/sys/fs/cgroup/pids/blixard/n/web/cgroup.procs",
        "--",
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        "umask 022; root=$1; wd=$2; owner=$3; shift 3; mount -t tmpfs -o mode=755,nosuid,size=1m blixard-jail "$root" || exit 126
      mk() { [ -d "$1" ] || mkdir -p "$1"; }
      while [ "$1" != -- ]; do dst=$root$3
      case $1 in skeleton) cp -a "$2/." "$root";; *-dir) mk "$dst";; link) mk "\${dst%/*}" && ln -s "$2" "$dst";; chr) mk "\${dst%/*}" && mknod -m 600 "$dst" c "\${2%:*}" "\${2#*:}" && chown "$owner:$owner" "$dst";; *) mk "\${dst%/*}" && : >"$dst";; esac || exit 126
      case $1 in link|chr|skeleton) ;; ro-*) mount --bind -o ro,nosuid,nodev "$2" "$dst";; rw-*) mount --bind -o nosuid,nodev "$2" "$dst";; dev) mount --bind -o nosuid,noexec "$2" "$dst";; *) false;; esac || exit 126
      shift 3; done; shift
      mount -o remount,ro "$root" || exit 126
      umask 077; exec unshare --root="$root" --wd="$wd" -- "$@"",
        "blixard-jail-view",
        "/run/blixard/jail-root",
        "/vms/web",
        "2000000123",
        "link",
        "usr/bin",
        "/bin",
        "ro-dir",
        "/usr",
        "/usr",
        "dev",
        "/dev/null",
        "/dev/null",
        "chr",
        "10:232",
        "/dev/kvm",
        "rw-dir",
        "/vms/web",
        "/vms/web",
        "ro-file",
        "/root/images/vmlinux",
        "/in/kernel",
        "--",
        "setpriv",
        "--reuid=2000000123",
        "--regid=2000000123",
        "--groups=1999999999",
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        "qemu-system-x86_64",
        "-M",
        "microvm",
      ]
    `);
  });

  it("carries hostile paths only as argv: a path with shell syntax is written to, never run", () => {
    const dir = mkdtempSync(join(tmpdir(), "jail-cmd-"));
    try {
      // The attack: a file name that would run a command if it were spliced into the script.
      const evil = join(dir, "procs; touch pwned; $(touch pwned2)");
      const marker = join(dir, "out");
      const res = spawnSync(
        "/bin/sh",
        ["-c", JOIN_CGROUPS_SCRIPT, "blixard-jail", evil, "--", "sh", "-c", `echo $$ > '${marker}'`],
        {
          cwd: dir,
          encoding: "utf8",
        },
      );
      expect(res.status).toBe(0);
      // The pid written into the "cgroup" file is the pid that exec'd the program: the same process.
      expect(readFileSync(evil, "utf8").trim()).toBe(readFileSync(marker, "utf8").trim());
      expect(() => readFileSync(join(dir, "pwned"))).toThrow();
      expect(() => readFileSync(join(dir, "pwned2"))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to run the program when it cannot join a cgroup, rather than running it unlimited", () => {
    const dir = mkdtempSync(join(tmpdir(), "jail-cmd-"));
    try {
      const marker = join(dir, "ran");
      const res = spawnSync("/bin/sh", [
        "-c",
        JOIN_CGROUPS_SCRIPT,
        "blixard-jail",
        join(dir, "missing-dir", "cgroup.procs"),
        "--",
        "sh",
        "-c",
        `touch '${marker}'`,
      ]);
      expect(res.status).toBe(126);
      expect(() => readFileSync(marker)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("without a mount namespace, goes straight from the cgroups to setpriv", () => {
    const { view: _, ...withoutView } = plan;
    const argv = jailedCommand(withoutView, "passt", ["-f"]);
    expect(argv).not.toContain("unshare");
    expect(argv.slice(argv.indexOf("setpriv"))).toContain("passt");
  });
});
