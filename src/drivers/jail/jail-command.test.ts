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
  binds: [{ source: "/root/images/vmlinux", target: "/vms/web/in/kernel" }],
  mountNamespace: true,
};

describe("jailed command", () => {
  it("joins the cgroups, then a mount namespace with the binds, then drops to the VM uid with no capabilities", () => {
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
        "while [ "$1" != -- ]; do mount --bind -o ro,nosuid,nodev "$1" "$2" || exit 126; shift 2; done; shift; exec "$@"",
        "blixard-jail-binds",
        "/root/images/vmlinux",
        "/vms/web/in/kernel",
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
    const argv = jailedCommand({ ...plan, mountNamespace: false, binds: [] }, "passt", ["-f"]);
    expect(argv).not.toContain("unshare");
    expect(argv.slice(argv.indexOf("setpriv"))).toContain("passt");
  });
});
