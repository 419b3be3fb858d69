import { lstat, mkdtemp, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { giveVolume } from "./vm-jail.js";
import { VM_GROUP } from "./vm-uid.js";

const root = process.getuid?.() === 0;

describe.skipIf(!root)("volume files given to a jailed VM (needs root to chown)", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "blixard-volume-files-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives a read-write volume to the VM's uid alone, a read-only one to root and the VM group", async () => {
    const rw = join(dir, "vol-a.qcow2");
    const ro = join(dir, "vol-b.qcow2");
    await writeFile(rw, "x", { mode: 0o644 });
    await writeFile(ro, "x", { mode: 0o666 });
    await giveVolume(rw, false, 2_000_000_123);
    await giveVolume(ro, true, 2_000_000_124);
    expect(await stat(rw)).toMatchObject({ uid: 2_000_000_123, gid: 2_000_000_123, mode: 0o100600 });
    expect(await stat(ro)).toMatchObject({ uid: 0, gid: VM_GROUP, mode: 0o100640 });
  });

  it("refuses a symlink planted in place of a volume file, leaving its target untouched", async () => {
    const secret = join(dir, "shadow");
    await writeFile(secret, "secret", { mode: 0o600 });
    const planted = join(dir, "vol-c.qcow2");
    await symlink(secret, planted);
    await expect(giveVolume(planted, false, 2_000_000_125)).rejects.toThrow(/not a regular file/);
    expect(await stat(secret)).toMatchObject({ uid: 0, mode: 0o100600 });
    expect((await lstat(planted)).isSymbolicLink()).toBe(true);
  });
});
