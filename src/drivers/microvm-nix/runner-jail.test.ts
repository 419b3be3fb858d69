/**
 * What a strict node refuses to run unjailed from a microvm.nix runner, and what it gives the VM's uid.
 */
import {
  chmodSync,
  chownSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  checkRunnerReachable,
  reclaimNodeNames,
  runnerWritable,
  unjailableError,
  unjailableParts,
} from "./runner-jail.js";

const run = "/nix/store/x-runner/bin/microvm-run";
const USER_NET = `exec '/nix/store/q/bin/qemu-system-x86_64' '-netdev' 'user,id=u0' '-sandbox' 'on'`;

describe("runners a jail cannot hold", () => {
  it("accepts a runner with user networking only", () => {
    expect(unjailableParts({ helpers: { "microvm-run": run } }, USER_NET)).toEqual([]);
  });

  it("names tap, macvtap and virtiofs helpers, which need root at run time", () => {
    const helpers = { "microvm-run": run, "tap-up": "t", "macvtap-up": "m", "virtiofsd-run": "v" };
    expect(unjailableParts({ helpers }, USER_NET)).toEqual([
      "tap interfaces (tap-up needs CAP_NET_ADMIN)",
      "macvtap interfaces (macvtap-up needs CAP_NET_ADMIN)",
      "virtiofs shares (virtiofsd runs as root)",
    ]);
  });

  it("names bridge interfaces, whose setuid helper no_new_privs disables", () => {
    const script = `exec qemu '-netdev' 'bridge,id=br0,br=virbr0,helper=/run/wrappers/bin/qemu-bridge-helper'`;
    expect(unjailableParts({ helpers: { "microvm-run": run } }, script)).toEqual([
      "bridge interfaces (qemu-bridge-helper is setuid, which no_new_privs disables)",
    ]);
  });

  it("names a microvm.user, which makes qemu switch uids itself", () => {
    for (const script of [`exec qemu '-user' 'microvm' '-m' '256'`, "exec qemu -run-with user=microvm"]) {
      expect(unjailableParts({ helpers: { "microvm-run": run } }, script)).toEqual([
        "microvm.user set (qemu cannot switch uids inside the jail)",
      ]);
    }
    // A netdev named "user" is not a uid switch.
    expect(unjailableParts({ helpers: {} }, `exec qemu '-netdev' 'user,id=user'`)).toEqual([]);
  });

  it("says what to do instead, naming --isolation none", () => {
    const err = unjailableError("web", ["tap interfaces (tap-up needs CAP_NET_ADMIN)"]);
    expect(err.code).toBe("FAILED_PRECONDITION");
    expect(err.message).toMatch(/^VM web cannot run jailed: its runner has tap interfaces/);
    expect(err.message).toContain("--isolation none");
  });

  it("gives the VM's uid its volumes' images", () => {
    expect(runnerWritable([{ image: "var.img" }, { image: "home.img" }])).toEqual(["var.img", "home.img"]);
  });
});

describe("a runner the VM's uid must be able to run", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "runner-jail-"));
    mkdirSync(join(dir, "runner", "bin"), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts a world-readable runner in passable directories", async () => {
    chmodSync(dir, 0o755);
    const script = join(dir, "runner", "bin", "microvm-run");
    writeFileSync(script, "#!/bin/sh\n", { mode: 0o755 });
    await expect(checkRunnerReachable("web", script)).resolves.toBeUndefined();
  });

  it("refuses one behind a closed directory (a runner under /root), naming it", async () => {
    chmodSync(dir, 0o700);
    const script = join(dir, "runner", "bin", "microvm-run");
    writeFileSync(script, "#!/bin/sh\n", { mode: 0o755 });
    await expect(checkRunnerReachable("web", script)).rejects.toThrow(`${dir} is closed to others`);
  });

  it("refuses a script others cannot read and run", async () => {
    chmodSync(dir, 0o755);
    const script = join(dir, "runner", "bin", "microvm-run");
    writeFileSync(script, "#!/bin/sh\n", { mode: 0o700 });
    await expect(checkRunnerReachable("web", script)).rejects.toThrow(/not world-readable and executable/);
  });
});

describe("the node's own names in a state dir the VM's uid owns", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "runner-reclaim-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.runIf(process.getuid?.() === 0)(
    "removes links and directories the VM put there, never their targets, and keeps the node's",
    async () => {
      const vmUid = 2_000_000_123;
      const state = join(dir, "state");
      const host = join(dir, "host-etc");
      mkdirSync(state);
      mkdirSync(host);
      writeFileSync(join(host, "passwd"), "root:x:0:0\n");
      // The attack: the next rebuild would write flake.nix into the host directory `flake` names.
      symlinkSync(host, join(state, "flake"));
      lchownSync(join(state, "flake"), vmUid, vmUid);
      mkdirSync(join(state, "build.json.partial"));
      chownSync(join(state, "build.json.partial"), vmUid, vmUid);
      symlinkSync("/nix/store/x-runner", join(state, "current"));
      writeFileSync(join(state, "console.log"), "");
      chownSync(join(state, "console.log"), vmUid, vmUid);
      expect(await reclaimNodeNames(state)).toEqual(["flake", "build.json.partial"]);
      expect(readdirSync(state).sort()).toEqual(["console.log", "current"]);
      expect(readFileSync(join(host, "passwd"), "utf8")).toBe("root:x:0:0\n");
    },
  );
});
