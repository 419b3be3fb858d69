/**
 * A jailed qemu opens an RBD volume: as a strict node runs it (its own uid, no capabilities, a view
 * holding no /etc and none of the node's files, qemu's seccomp sandbox), with the client conf and
 * keyring copied into its state dir. It writes and reads through librbd, and cannot read the node's
 * own keyring (the attack: a guest that took over its qemu going for the node's credentials).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseVmSpec } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import type { VolumeLocation } from "../../ports/volume-backend.js";
import { cephSkipReason, localDummyAddress, startTestCeph, type TestCeph } from "../../testing/ceph.js";
import { type RbdHolder, startRbdHolder } from "../../testing/rbd-qemu.js";
import { imageDir } from "../../testing/test-image.js";
import { RbdBackend } from "../../volumes/rbd/rbd-backend.js";
import { nodeCgroupGroup } from "../jail/cgroups.js";
import { openToVmGroup } from "../jail/data-dir-access.js";
import { probeHostIsolation } from "../jail/host-isolation.js";
import { jailedCommand } from "../jail/jail-command.js";
import { removeJailLeftovers } from "../jail/leftovers.js";
import { type JailedVm, VmJail } from "../jail/vm-jail.js";
import { CEPH_CLIENT_FILES, writeCephClientFiles } from "../shared/ceph-client-files.js";
import { QemuDriver } from "./qemu-driver.js";

const execFileAsync = promisify(execFile);
const skip = cephSkipReason();
const suite = `a jailed qemu on an RBD volume${skip ? ` (skipped: ${skip})` : ""}`;

describe.skipIf(skip !== undefined)(suite, () => {
  let ceph: TestCeph;
  let dummy: Awaited<ReturnType<typeof localDummyAddress>> | undefined;
  let backend: RbdBackend;
  let root: string;
  let vmsDir: string;
  let jail: VmJail;
  let jailed: JailedVm | undefined;
  let holder: RbdHolder | undefined;
  const loc: VolumeLocation = { backend: "rbd", pool: "blixard", image: "blixard-vol-jailed" };

  beforeAll(async () => {
    // Not on loopback: the host's firewall keeps every VM uid off 127.0.0.0/8, Ceph included.
    dummy = await localDummyAddress();
    ceph = await startTestCeph({ address: dummy.address });
    backend = new RbdBackend({
      confPath: ceph.confPath,
      user: ceph.user,
      keyringPath: ceph.keyringPath,
      defaultPool: ceph.pool,
    });
    await backend.create(loc, { sizeBytes: 16 << 20 });
    root = await mkdtemp(join(tmpdir(), "blixard-rbd-jail-"));
    vmsDir = join(root, "vms");
    await mkdir(vmsDir);
    await openToVmGroup(root, vmsDir);
    const host = probeHostIsolation({ mode: "strict" });
    if (!host.cgroup || host.missing.length > 0)
      throw new Error(`cannot jail here: ${host.missing.join("; ")}`);
    jail = new VmJail({
      cgroup: { ...host.cgroup, group: nodeCgroupGroup(vmsDir) },
      mountNamespace: host.mountNamespace,
    });
  }, 120_000);

  afterAll(async () => {
    await holder?.stop();
    if (jailed) {
      await jail.leave("rbdvm");
      await jail.release(join(vmsDir, "rbdvm"), jailed.uid);
    }
    if (vmsDir) await removeJailLeftovers(vmsDir);
    await ceph?.stop();
    await dummy?.remove();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("writes and reads the image through librbd as the VM's uid, in its view, under the seccomp sandbox", async () => {
    const stateDir = join(vmsDir, "rbdvm");
    await mkdir(stateDir);
    const source = await writeCephClientFiles(stateDir, backend.source(loc, false));
    jailed = await jail.enter(
      "rbdvm",
      stateDir,
      { memory: 64, vcpus: 1 },
      {},
      { writable: [...CEPH_CLIENT_FILES] },
    );
    const plan = jailed.plan;
    expect(plan.view).toBeDefined();
    holder = await startRbdHolder(stateDir, source, {
      wrap: (program, argv) => jailedCommand(plan, program, argv),
    });

    const status = await readFile(`/proc/${holder.pid}/status`, "utf8");
    expect(status).toMatch(new RegExp(`^Uid:\\s+${jailed.uid}\\s`, "m"));
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);

    expect(await holder.io("write -P 0x6b 1M 256k")).toMatch(/wrote 262144\/262144/);
    expect(await holder.io("read -P 0x6b 1M 256k")).toMatch(/read 262144\/262144/);
    // The node's keyring and conf are not in qemu's view; the copies in its state dir are its uid's alone.
    const view = `/proc/${holder.pid}/root`;
    expect(existsSync(`${view}${ceph.keyringPath}`)).toBe(false);
    expect(existsSync(`${view}${ceph.confPath}`)).toBe(false);
    expect(existsSync(`${view}${stateDir}/ceph.keyring`)).toBe(true);
    const copy = await stat(join(stateDir, "ceph.keyring"));
    expect([copy.uid, copy.mode & 0o777]).toEqual([jailed.uid, 0o600]);

    const out = join(root, "export.raw");
    await execFileAsync("rbd", [
      "--conf",
      ceph.confPath,
      "--id",
      "admin",
      "--keyring",
      ceph.keyringPath,
      "export",
      "--no-progress",
      "blixard/blixard-vol-jailed",
      out,
    ]);
    expect(
      (await readFile(out)).subarray(1 << 20, (1 << 20) + 262144).equals(Buffer.alloc(262144, 0x6b)),
    ).toBe(true);
  });

  it("boots a guest through the qemu driver with an RBD volume attached: the jailed qemu opens the image", async () => {
    const vol: VolumeLocation = { backend: "rbd", pool: "blixard", image: "blixard-vol-guest" };
    await backend.create(vol, { sizeBytes: 16 << 20 });
    const driver = new QemuDriver({ vmsDir, accel: "tcg", logger: silentLogger, clock: systemClock, jail });
    const spec = parseVmSpec({
      name: "rbdguest",
      kernel: join(imageDir(), "vmlinuz"),
      initrd: join(imageDir(), "initrd.img"),
      memory: 256,
    });
    await driver.prepare("rbdguest", spec);
    const offset = await driver.logSize("rbdguest");
    const started = await driver.start("rbdguest", spec, {
      volumes: [{ name: "data", readOnly: false, boot: false, source: backend.source(vol, false) }],
    });
    try {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 150_000);
      let text = "";
      try {
        for await (const chunk of driver.followLogs("rbdguest", offset, controller.signal)) {
          text += chunk;
          if (/BLIXARD-READY name=/.test(text)) break;
        }
      } finally {
        clearTimeout(timer);
        controller.abort();
      }
      expect(text).toMatch(/BLIXARD-READY name=/);
      // The guest's kernel found the volume as a virtio disk (16 MiB = 32768 sectors).
      expect(text).toMatch(/\[vd[a-z]\] 32768 512-byte logical blocks/);
      const { stdout } = await execFileAsync("rbd", [
        "--conf",
        ceph.confPath,
        "--id",
        "admin",
        "--keyring",
        ceph.keyringPath,
        "status",
        "--format",
        "json",
        "blixard/blixard-vol-guest",
      ]);
      expect(JSON.parse(stdout).watchers).toHaveLength(1);
      const status = await readFile(`/proc/${started.pid}/status`, "utf8");
      expect(status).toMatch(/^CapEff:\s+0+$/m);
    } finally {
      await driver.stop("rbdguest", { gracefulTimeoutMs: 5_000, quitTimeoutMs: 5_000, killTimeoutMs: 5_000 });
      await driver.remove("rbdguest");
    }
  }, 240_000);
});
