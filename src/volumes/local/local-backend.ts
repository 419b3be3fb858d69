/**
 * The local volume backend: a volume is a qcow2 file `<data-dir>/volumes/<id>.qcow2` on the one node
 * that holds it. The file name is the volume's id (core/volume.ts: `vol-` and hex, derived by the API,
 * never a user string) and is checked again here, so no record can make this backend touch a path
 * outside its directory. Snapshots are qcow2 internal snapshots (`qemu-img snapshot`); a clone is a
 * new, independent qcow2 converted from a snapshot, so deleting the source never breaks it.
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { BlixardError } from "../../core/errors.js";
import { VOLUME_ID_PATTERN } from "../../core/volume.js";
import { imageInfo, qemuImg } from "../../drivers/shared/qemu-img.js";
import type {
  BlockSource,
  CreateVolumeOptions,
  VolumeBackend,
  VolumeHolder,
  VolumeLocation,
} from "../../ports/volume-backend.js";

/** A copy from a large image may take a while; a hung qemu-img must not hold the volume for ever. */
const COPY_TIMEOUT_MS = 30 * 60_000;

export interface LocalBackendOptions {
  /** `<data-dir>/volumes`, created on first use (0700: only root reads the volumes' bytes). */
  dir: string;
  qemuImg?: string;
}

export class LocalVolumeBackend implements VolumeBackend {
  readonly name = "local" as const;
  private readonly binary: string;

  constructor(private readonly opts: LocalBackendOptions) {
    this.binary = opts.qemuImg ?? "qemu-img";
  }

  async available(): Promise<{ ok: true }> {
    return { ok: true };
  }

  /** The volume's file. Throws for an image name that is not a volume id (it could name any path). */
  path(location: VolumeLocation): string {
    if (location.backend !== "local" || !VOLUME_ID_PATTERN.test(location.image)) {
      throw new BlixardError(
        "INVALID_ARGUMENT",
        `local volume image ${JSON.stringify(location.image).slice(0, 100)} is not a volume id (vol- and hex)`,
      );
    }
    return join(this.opts.dir, `${location.image}.qcow2`);
  }

  async create(location: VolumeLocation, options: CreateVolumeOptions): Promise<void> {
    const file = this.path(location);
    if (await this.exists(location)) return;
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    // Made under a temporary name and renamed, so an interrupted create never leaves a half-made
    // file that a retry would take for the volume.
    const partial = `${file}.partial`;
    await rm(partial, { force: true });
    try {
      if (options.fromSnapshot) {
        const source = this.path(options.fromSnapshot.source);
        const snapshot = `snapshot.name=${options.fromSnapshot.snapshot}`;
        await qemuImg(
          this.binary,
          ["convert", "-q", "-O", "qcow2", "-l", snapshot, source, partial],
          COPY_TIMEOUT_MS,
        );
      } else if (options.fromImage) {
        const { format, backingFilename } = await imageInfo(this.binary, options.fromImage);
        // An image's header can name a backing file anywhere on the host, which the copy would read
        // into the volume (and so into a guest): only self-contained images are copied.
        if (backingFilename !== undefined) {
          throw new BlixardError(
            "FAILED_PRECONDITION",
            `image ${options.fromImage} has a backing file (${backingFilename}); flatten it first with: qemu-img convert -O qcow2 IMAGE FLAT`,
          );
        }
        await qemuImg(
          this.binary,
          ["convert", "-q", "-f", format, "-O", "qcow2", options.fromImage, partial],
          COPY_TIMEOUT_MS,
        );
      } else {
        await qemuImg(this.binary, ["create", "-q", "-f", "qcow2", partial, String(options.sizeBytes)]);
      }
      if (options.fromImage || options.fromSnapshot) await this.growTo(partial, options.sizeBytes);
      await rename(partial, file);
    } finally {
      await rm(partial, { force: true });
    }
  }

  async remove(location: VolumeLocation): Promise<void> {
    await rm(this.path(location), { force: true });
  }

  async exists(location: VolumeLocation): Promise<boolean> {
    try {
      return (await stat(this.path(location))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /** Takes a qcow2 internal snapshot; taking one that exists already changes nothing. */
  async snapshot(location: VolumeLocation, snapshot: string): Promise<void> {
    const file = this.path(location);
    if ((await this.snapshots(file)).includes(snapshot)) return;
    await qemuImg(this.binary, ["snapshot", "-c", snapshot, file]);
  }

  source(location: VolumeLocation, _readOnly: boolean): BlockSource {
    return { kind: "file", path: this.path(location), format: "qcow2" };
  }

  /** A local volume never leaves its node, and the scheduler places its VMs there only. */
  async fence(_location: VolumeLocation): Promise<VolumeHolder[]> {
    return [];
  }

  private async snapshots(file: string): Promise<string[]> {
    const out = await qemuImg(this.binary, ["info", "--force-share", "--output=json", file]);
    const info = JSON.parse(out) as { snapshots?: { name?: unknown }[] };
    return (info.snapshots ?? []).flatMap((s) => (typeof s.name === "string" ? [s.name] : []));
  }

  /** Grows a copied image to the volume's size; an image larger than it keeps its own size. */
  private async growTo(file: string, sizeBytes: number): Promise<void> {
    const out = await qemuImg(this.binary, ["info", "--output=json", file]);
    const size = (JSON.parse(out) as { "virtual-size"?: number })["virtual-size"] ?? 0;
    if (size < sizeBytes) await qemuImg(this.binary, ["resize", "-q", file, String(sizeBytes)]);
  }
}
