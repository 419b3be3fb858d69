/**
 * The RBD backend against a real (throwaway) Ceph: create, copy, snapshot, remove, idempotence, and
 * what `available()` says when the cluster is unreachable or refuses the credentials.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VolumeLocation } from "../../ports/volume-backend.js";
import { cephSkipReason, startTestCeph, type TestCeph } from "../../testing/ceph.js";
import { RbdBackend } from "./rbd-backend.js";

const execFileAsync = promisify(execFile);
const skip = cephSkipReason();
const suite = `RbdBackend against a throwaway Ceph${skip ? ` (skipped: ${skip})` : ""}`;

describe.skipIf(skip !== undefined)(suite, () => {
  let ceph: TestCeph;
  let backend: RbdBackend;
  let scratch: string;

  beforeAll(async () => {
    ceph = await startTestCeph();
    backend = new RbdBackend({
      confPath: ceph.confPath,
      user: ceph.user,
      keyringPath: ceph.keyringPath,
      defaultPool: ceph.pool,
    });
    scratch = await mkdtemp(join(tmpdir(), "blixard-rbd-test-"));
  }, 120_000);

  afterAll(async () => {
    await ceph?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const at = (image: string): VolumeLocation => ({ backend: "rbd", pool: "blixard", image });

  async function readBytes(image: string, offset: number, length: number): Promise<Buffer> {
    const out = join(scratch, `${image}.raw`);
    await rm(out, { force: true });
    await execFileAsync("rbd", [
      "--conf",
      ceph.confPath,
      "--id",
      ceph.user,
      "--keyring",
      ceph.keyringPath,
      "export",
      "--no-progress",
      `blixard/${image}`,
      out,
    ]);
    return (await readFile(out)).subarray(offset, offset + length);
  }

  it("is available, with the pool", async () => {
    expect(await backend.available()).toEqual({ ok: true });
  });

  it("creates an image of the size asked, idempotently, and removes it with its snapshots", async () => {
    const loc = at("blixard-vol-create1");
    expect(await backend.exists(loc)).toBe(false);
    await backend.create(loc, { sizeBytes: 64 << 20 });
    await backend.create(loc, { sizeBytes: 64 << 20 });
    expect(await backend.exists(loc)).toBe(true);
    const { stdout } = await execFileAsync("rbd", [
      "--conf",
      ceph.confPath,
      "--id",
      ceph.user,
      "--keyring",
      ceph.keyringPath,
      "info",
      "--format",
      "json",
      "blixard/blixard-vol-create1",
    ]);
    expect(JSON.parse(stdout).size).toBe(64 << 20);
    await backend.snapshot(loc, "s1");
    await backend.snapshot(loc, "s1");
    await backend.remove(loc);
    expect(await backend.exists(loc)).toBe(false);
    await backend.remove(loc);
  });

  it("starts a volume from a raw or qcow2 image and grows it to the size asked", async () => {
    const raw = join(scratch, "seed.raw");
    const content = Buffer.alloc(1 << 20, 0x5a);
    await writeFile(raw, content);
    await backend.create(at("blixard-vol-raw"), { sizeBytes: 8 << 20, fromImage: raw });
    expect((await readBytes("blixard-vol-raw", 0, 1 << 20)).equals(content)).toBe(true);
    expect((await readBytes("blixard-vol-raw", 0, 16 << 20)).length).toBe(8 << 20);

    const qcow = join(scratch, "seed.qcow2");
    await execFileAsync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, qcow]);
    await backend.create(at("blixard-vol-qcow"), { sizeBytes: 4 << 20, fromImage: qcow });
    expect((await readBytes("blixard-vol-qcow", 0, 1 << 20)).equals(content)).toBe(true);
  });

  it("clones a snapshot into an independent volume: later writes to the source do not show, and the source can go", async () => {
    const src = at("blixard-vol-raw");
    await backend.snapshot(src, "before");
    const target = `rbd:blixard/blixard-vol-raw:id=admin:conf=${ceph.confPath}:keyring=${ceph.keyringPath}`;
    await execFileAsync("qemu-io", ["-f", "raw", target, "-c", "write -P 0x11 0 64k"]);
    expect((await readBytes("blixard-vol-raw", 0, 1)).toString("hex")).toBe("11");
    await backend.create(at("blixard-vol-clone"), {
      sizeBytes: 8 << 20,
      fromSnapshot: { source: src, snapshot: "before" },
    });
    await backend.remove(src);
    expect(await backend.exists(src)).toBe(false);
    expect((await readBytes("blixard-vol-clone", 0, 1 << 20)).equals(Buffer.alloc(1 << 20, 0x5a))).toBe(true);
  });

  it("leaves no image behind when a create fails, and a retry succeeds", async () => {
    const loc = at("blixard-vol-retry");
    await expect(
      backend.create(loc, { sizeBytes: 4 << 20, fromImage: join(scratch, "missing.raw") }),
    ).rejects.toThrow(/source image/);
    expect(await backend.exists(loc)).toBe(false);
    expect(await backend.exists(at("blixard-vol-retry.partial"))).toBe(false);
    await backend.create(loc, { sizeBytes: 4 << 20 });
    expect(await backend.exists(loc)).toBe(true);
  });

  it("says why it is unavailable: a wrong key (attack: a client without the cluster's key) and an unreachable monitor", async () => {
    const badKeyring = join(scratch, "bad.keyring");
    await execFileAsync("ceph-authtool", ["--create-keyring", badKeyring, "--gen-key", "-n", "client.admin"]);
    const wrongKey = new RbdBackend({
      confPath: ceph.confPath,
      user: "admin",
      keyringPath: badKeyring,
      defaultPool: "blixard",
      probeTimeoutMs: 3_000,
    });
    const refused = await wrongKey.available();
    expect(refused.ok).toBe(false);
    await expect(wrongKey.exists(at("blixard-vol-retry"))).rejects.toThrow();

    const conf = join(scratch, "nowhere.conf");
    await writeFile(conf, "[global]\nmon host = 127.0.0.1:9\n");
    const nowhere = new RbdBackend({
      confPath: conf,
      user: "admin",
      keyringPath: ceph.keyringPath,
      defaultPool: "blixard",
      probeTimeoutMs: 2_000,
    });
    const down = await nowhere.available();
    expect(down.ok).toBe(false);
    if (!down.ok) expect(down.reason).toMatch(/Ceph|rados|timed out|connect/i);

    const noPool = new RbdBackend({
      confPath: ceph.confPath,
      user: "admin",
      keyringPath: ceph.keyringPath,
      defaultPool: "nosuchpool",
    });
    expect(await noPool.available()).toEqual({
      ok: false,
      reason: expect.stringContaining("no pool nosuchpool"),
    });
  });
});
