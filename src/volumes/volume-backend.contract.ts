/**
 * The contract every VolumeBackend keeps (ports/volume-backend.ts), run against each implementation:
 * `runVolumeBackendContract("local", makeBackend)`. Bytes are written and read through the
 * backend's own BlockSource with qemu-io, the block layer qemu itself uses, so what a guest would see
 * is what is checked.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BlockSource, VolumeBackend, VolumeLocation } from "../ports/volume-backend.js";

const run = promisify(execFile);
const MiB = 1024 ** 2;

export interface BackendUnderTest {
  backend: VolumeBackend;
  /** A fresh location for a volume of this backend (a new id each call). */
  location(): VolumeLocation;
  cleanup(): Promise<void>;
}

/** qemu's name for a block source, as qemu-io and `-drive file=` read it. */
function blockTarget(source: BlockSource): { args: string[] } {
  if (source.kind === "file") return { args: ["-f", source.format, source.path] };
  const key = source.keyringPath ? `:keyring=${source.keyringPath}` : "";
  return {
    args: ["-f", "raw", `rbd:${source.pool}/${source.image}:id=${source.user}:conf=${source.confPath}${key}`],
  };
}

/** Writes `pattern` over `length` bytes at `offset` through qemu's block layer. */
export async function writePattern(source: BlockSource, offset: number, length: number, pattern: number) {
  const { args } = blockTarget(source);
  await run("qemu-io", ["-c", `write -P ${pattern} ${offset} ${length}`, ...args]);
}

/** Whether the bytes at `offset` are all `pattern`. */
export async function holdsPattern(
  source: BlockSource,
  offset: number,
  length: number,
  pattern: number,
): Promise<boolean> {
  const { args } = blockTarget(source);
  try {
    await run("qemu-io", ["-r", "-c", `read -P ${pattern} ${offset} ${length}`, ...args]);
    return true;
  } catch (err) {
    // qemu-io exits 1 on a mismatch and says so; any other failure is the test's.
    if (String((err as { stdout?: string }).stdout).includes("Pattern verification failed")) return false;
    throw err;
  }
}

/** The size a guest sees, in bytes. */
export async function virtualSize(source: BlockSource): Promise<number> {
  const { args } = blockTarget(source);
  const { stdout } = await run("qemu-img", ["info", "--output=json", "--force-share", ...args]);
  return (JSON.parse(stdout) as { "virtual-size": number })["virtual-size"];
}

export function runVolumeBackendContract(name: string, make: () => Promise<BackendUnderTest>): void {
  describe(`VolumeBackend contract: ${name}`, () => {
    let t: BackendUnderTest;
    let scratch: string;

    beforeEach(async () => {
      t = await make();
      scratch = await mkdtemp(join(tmpdir(), "blixard-volume-contract-"));
    });

    afterEach(async () => {
      await t.cleanup();
      await rm(scratch, { recursive: true, force: true });
    });

    it("is available", async () => {
      expect(await t.backend.available()).toEqual({ ok: true });
    });

    it("creates a volume of the asked size, zero-filled, that exists until removed", async () => {
      const at = t.location();
      expect(await t.backend.exists(at)).toBe(false);
      await t.backend.create(at, { sizeBytes: 64 * MiB });
      expect(await t.backend.exists(at)).toBe(true);
      const source = t.backend.source(at, false);
      expect(await virtualSize(source)).toBe(64 * MiB);
      expect(await holdsPattern(source, 0, MiB, 0)).toBe(true);
      await t.backend.remove(at);
      expect(await t.backend.exists(at)).toBe(false);
    });

    it("keeps what was written when a create is retried (a retry never wipes)", async () => {
      const at = t.location();
      await t.backend.create(at, { sizeBytes: 16 * MiB });
      await writePattern(t.backend.source(at, false), 0, MiB, 0xab);
      await t.backend.create(at, { sizeBytes: 16 * MiB });
      expect(await holdsPattern(t.backend.source(at, false), 0, MiB, 0xab)).toBe(true);
    });

    it("removes what does not exist without failing, twice", async () => {
      const at = t.location();
      await t.backend.remove(at);
      await t.backend.create(at, { sizeBytes: 16 * MiB });
      await t.backend.remove(at);
      await t.backend.remove(at);
      expect(await t.backend.exists(at)).toBe(false);
    });

    it("clones a snapshot: the clone holds the bytes at the snapshot, not later writes", async () => {
      const at = t.location();
      await t.backend.create(at, { sizeBytes: 16 * MiB });
      const source = t.backend.source(at, false);
      await writePattern(source, 0, MiB, 0x11);
      await t.backend.snapshot(at, "before");
      await t.backend.snapshot(at, "before");
      await writePattern(source, 0, MiB, 0x22);
      const copy = t.location();
      await t.backend.create(copy, { sizeBytes: 16 * MiB, fromSnapshot: { source: at, snapshot: "before" } });
      expect(await holdsPattern(t.backend.source(copy, false), 0, MiB, 0x11)).toBe(true);
      expect(await holdsPattern(source, 0, MiB, 0x22)).toBe(true);
      expect(await holdsPattern(t.backend.source(copy, false), 0, MiB, 0x22)).toBe(false);
      // The clone is independent: removing its source keeps it whole.
      await t.backend.remove(at);
      expect(await holdsPattern(t.backend.source(copy, false), 0, MiB, 0x11)).toBe(true);
    });

    it("starts a volume from a host image, grown to the asked size", async () => {
      const image = join(scratch, "seed.raw");
      await writeFile(image, Buffer.alloc(2 * MiB, 0x5a));
      const at = t.location();
      await t.backend.create(at, { sizeBytes: 32 * MiB, fromImage: image });
      const source = t.backend.source(at, false);
      expect(await holdsPattern(source, 0, 2 * MiB, 0x5a)).toBe(true);
      expect(await virtualSize(source)).toBe(32 * MiB);
    });

    it("refuses a host image whose header names a backing file (it would copy a host file in)", async () => {
      const secret = join(scratch, "secret.raw");
      await writeFile(secret, Buffer.alloc(MiB, 0x77));
      const image = join(scratch, "trojan.qcow2");
      await run("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "raw", "-b", secret, image]);
      const at = t.location();
      await expect(t.backend.create(at, { sizeBytes: 16 * MiB, fromImage: image })).rejects.toThrow(
        /backing file/,
      );
      expect(await t.backend.exists(at)).toBe(false);
    });

    it("fences without failing when nobody else holds the volume", async () => {
      const at = t.location();
      await t.backend.create(at, { sizeBytes: 16 * MiB });
      expect(await t.backend.fence(at)).toEqual([]);
    });
  });
}
