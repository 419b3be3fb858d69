/**
 * Fencing an RBD volume with real qemus: a qemu on the "lost" node keeps the image open read-write
 * and keeps writing (the attack: a node that is only partitioned, or a qemu that outlived its agent);
 * another node fences the volume before starting its own qemu on it. From then on the old qemu's
 * writes fail and none of them lands, while the new holder reads and writes.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeCephClientFiles } from "../../drivers/shared/ceph-client-files.js";
import type { VolumeLocation } from "../../ports/volume-backend.js";
import { cephSkipReason, startTestCeph, type TestCeph } from "../../testing/ceph.js";
import { type RbdHolder, startRbdHolder } from "../../testing/rbd-qemu.js";
import { RbdBackend } from "./rbd-backend.js";

const execFileAsync = promisify(execFile);
const skip = cephSkipReason();
const suite = `fencing an RBD volume held by a live qemu${skip ? ` (skipped: ${skip})` : ""}`;

describe.skipIf(skip !== undefined)(suite, () => {
  let ceph: TestCeph;
  let backend: RbdBackend;
  let scratch: string;
  const holders: RbdHolder[] = [];
  const loc: VolumeLocation = { backend: "rbd", pool: "blixard", image: "blixard-vol-fence" };

  beforeAll(async () => {
    ceph = await startTestCeph();
    backend = new RbdBackend({
      confPath: ceph.confPath,
      user: ceph.user,
      keyringPath: ceph.keyringPath,
      defaultPool: ceph.pool,
    });
    scratch = await mkdtemp(join(tmpdir(), "blixard-fence-test-"));
    await backend.create(loc, { sizeBytes: 16 << 20 });
  }, 120_000);

  afterAll(async () => {
    for (const h of holders) await h.stop();
    await ceph?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  async function holderOn(node: string, at = loc): Promise<RbdHolder> {
    const stateDir = join(scratch, node);
    await mkdir(stateDir, { recursive: true });
    const source = await writeCephClientFiles(stateDir, backend.source(at, false));
    const holder = await startRbdHolder(stateDir, source);
    holders.push(holder);
    return holder;
  }

  async function firstByte(image = loc.image): Promise<string> {
    const out = join(scratch, "export.raw");
    await rm(out, { force: true });
    await execFileAsync("rbd", [
      "--conf",
      ceph.confPath,
      "--id",
      "admin",
      "--keyring",
      ceph.keyringPath,
      "export",
      "--no-progress",
      `blixard/${image}`,
      out,
    ]);
    return (await readFile(out)).subarray(0, 1).toString("hex");
  }

  it("blocklists the old writer: its writes fail and never land, the new holder writes and reads", async () => {
    const old = await holderOn("node-a");
    expect(await old.io("write -P 0x11 0 64k")).toMatch(/wrote 65536\/65536/);
    expect(await firstByte()).toBe("11");

    const fenced = await backend.fence(loc);
    expect(fenced).toHaveLength(1);
    expect(fenced[0]?.client).toMatch(/^client\.\d+$/);
    expect(fenced[0]?.address).toMatch(/^127\.0\.0\.1:0\/\d+$/);

    const { stdout } = await execFileAsync("ceph", [
      "--conf",
      ceph.confPath,
      "--id",
      "admin",
      "--keyring",
      ceph.keyringPath,
      "osd",
      "blocklist",
      "ls",
      "--format",
      "json",
    ]);
    expect(stdout).toContain(`"addr":"${fenced[0]?.address}`);

    // The old qemu is alive and tries again: refused by the OSDs.
    const refused = await old.io("write -P 0x33 0 64k");
    expect(refused).toMatch(/write failed/);
    expect(refused).not.toMatch(/wrote 65536/);

    const next = await holderOn("node-b");
    expect(await next.io("write -P 0x22 0 64k")).toMatch(/wrote 65536\/65536/);
    expect(await next.io("read -P 0x22 0 64k")).toMatch(/read 65536\/65536/);
    expect(await old.io("write -P 0x44 0 4k")).toMatch(/write failed/);
    await next.io("aio_flush").catch(() => undefined);
    expect(await firstByte()).toBe("22");
  });

  it("without a fence, both qemus write the image: the exclusive lock alone does not stop the old writer", async () => {
    const shared: VolumeLocation = { ...loc, image: "blixard-vol-unfenced" };
    await backend.create(shared, { sizeBytes: 4 << 20 });
    const old = await holderOn("node-c", shared);
    const next = await holderOn("node-d", shared);
    expect(await next.io("write -P 0x22 0 4k")).toMatch(/wrote 4096\/4096/);
    // librbd hands the lock back and forth on request: the old writer's write succeeds and lands.
    expect(await old.io("write -P 0x55 0 4k")).toMatch(/wrote 4096\/4096/);
    expect(await firstByte(shared.image)).toBe("55");
  });

  it("fences nobody when nobody holds the image", async () => {
    const free: VolumeLocation = { ...loc, image: "blixard-vol-free" };
    await backend.create(free, { sizeBytes: 4 << 20 });
    expect(await backend.fence(free)).toEqual([]);
  });
});
