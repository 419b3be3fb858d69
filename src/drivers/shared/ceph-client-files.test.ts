import { mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { rbdBlockdevArgs } from "../qemu/rbd-blockdev.js";
import { clientConf, writeCephClientFiles } from "./ceph-client-files.js";

describe("a VM's Ceph client files", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "blixard-ceph-files-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("hold the monitors, the auth mode and the copied keyring, 0600, and nothing of the node's conf else", async () => {
    const conf = join(dir, "node.conf");
    await writeFile(
      conf,
      "[global]\nmon host = 10.0.0.1:6789\nadmin socket = /var/run/ceph/x.asok\n[client]\nlog file = /var/log/ceph/c.log\n",
    );
    const keyring = join(dir, "node.keyring");
    await writeFile(keyring, "[client.vm]\n\tkey = AQBfakefakefakefakefakefakefakefakefake==\n", {
      mode: 0o600,
    });
    const state = join(dir, "state");
    await import("node:fs/promises").then((fs) => fs.mkdir(state));
    const source = await writeCephClientFiles(state, {
      kind: "rbd",
      pool: "p",
      image: "i",
      user: "vm",
      confPath: conf,
      keyringPath: keyring,
    });
    expect(source).toEqual({
      kind: "rbd",
      pool: "p",
      image: "i",
      user: "vm",
      confPath: join(state, "ceph.conf"),
      keyringPath: join(state, "ceph.keyring"),
    });
    const written = await readFile(source.confPath, "utf8");
    expect(written).toContain("mon host = 10.0.0.1:6789");
    expect(written).toContain(`keyring = ${join(state, "ceph.keyring")}`);
    expect(written).not.toContain("asok");
    expect(written).not.toContain("log file");
    expect(await readFile(join(state, "ceph.keyring"), "utf8")).toContain("AQBfake");
    expect((await stat(join(state, "ceph.keyring"))).mode & 0o777).toBe(0o600);
  });

  it("replace a link the VM's uid planted instead of writing through it (attack: ceph.keyring -> a host file)", async () => {
    const conf = join(dir, "node.conf");
    await writeFile(conf, "[global]\nmon host = 10.0.0.1\n");
    const victim = join(dir, "victim");
    await writeFile(victim, "host data");
    const state = join(dir, "state2");
    await import("node:fs/promises").then((fs) => fs.mkdir(state));
    await symlink(victim, join(state, "ceph.keyring"));
    await writeCephClientFiles(state, { kind: "rbd", pool: "p", image: "i", user: "admin", confPath: conf });
    expect(await readFile(victim, "utf8")).toBe("host data");
    expect(
      (await import("node:fs/promises").then((fs) => fs.lstat(join(state, "ceph.keyring")))).isFile(),
    ).toBe(true);
  });

  it("refuse a mon_host that would add conf lines (attack: a newline smuggling a keyring or mon elsewhere)", () => {
    expect(() => clientConf("10.0.0.1\nkeyring = /etc/shadow", "cephx", "/s/ceph.keyring")).toThrow(
      /mon_host/,
    );
    expect(() => clientConf("10.0.0.1", "cephx\nmon host = 6.6.6.6", "/s/ceph.keyring")).toThrow(
      /auth_client_required/,
    );
    expect(clientConf("[v2:127.0.0.1:3300,v1:127.0.0.1:6789]", "cephx", "/s/k")).toContain(
      "mon host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]",
    );
  });
});

describe("rbdBlockdevArgs", () => {
  it("opens the image by pool, image, conf and user, with no key on the command line, escaping commas", () => {
    const args = rbdBlockdevArgs(
      {
        kind: "rbd",
        pool: "blixard",
        image: "blixard-vol-1",
        user: "admin",
        confPath: "/data/vms/a,b/ceph.conf",
        keyringPath: "/data/vms/a,b/ceph.keyring",
      },
      "vol0",
      true,
    );
    expect(args).toEqual([
      "-blockdev",
      "driver=rbd,node-name=vol0,pool=blixard,image=blixard-vol-1,conf=/data/vms/a,,b/ceph.conf,user=admin,read-only=on,discard=unmap",
    ]);
    expect(args.join(" ")).not.toMatch(/key=|key-secret|keyring/);
    expect(() =>
      rbdBlockdevArgs({ kind: "rbd", pool: "p", image: "i", user: "u", confPath: "/c" }, "vol0,driver=file"),
    ).toThrow();
  });
});
