/**
 * The RBD volume backend: a volume is an image in a Ceph pool, made, copied, snapshotted, fenced and
 * removed with the `rbd`, `rados` and `ceph` tools (argv in rbd-argv.ts), and opened by qemu through
 * its rbd block driver. Any node with Ceph access can open it, so before a VM starts on a new node
 * the old holder is fenced: blocklisted at the OSDs and its lock broken, as Ceph CSI does.
 */
import { BlixardError, errorMessage } from "../../core/errors.js";
import type { ProgressFn } from "../../ports/vm-driver.js";
import type {
  BlockSource,
  CreateVolumeOptions,
  VolumeBackend,
  VolumeHolder,
  VolumeLocation,
} from "../../ports/volume-backend.js";
import {
  type CephConnection,
  cephBlocklistAdd,
  checkCephName,
  checkCephPath,
  partialImage,
  qemuImgConvertToRbd,
  radosListPools,
  rbdArgv,
} from "./rbd-argv.js";
import { type CephTools, DEFAULT_CEPH_TOOLS, EEXIST, ENOENT, exitedWith, runCephTool } from "./rbd-cli.js";
import { holdersOf, parseLocks, parseWatchers } from "./rbd-holders.js";

export interface RbdBackendOptions extends CephConnection {
  /** The pool of a location that names none. */
  defaultPool: string;
  tools?: Partial<CephTools>;
  /** Per call; a copy of a large image gets `copyTimeoutMs`. */
  timeoutMs?: number;
  copyTimeoutMs?: number;
  /** How long `available()` waits for the cluster. */
  probeTimeoutMs?: number;
}

export class RbdBackend implements VolumeBackend {
  readonly name = "rbd" as const;
  private readonly tools: CephTools;
  private readonly conn: CephConnection;
  private readonly timeoutMs: number;
  private readonly copyTimeoutMs: number;
  private readonly probeTimeoutMs: number;

  constructor(private readonly options: RbdBackendOptions) {
    this.tools = { ...DEFAULT_CEPH_TOOLS, ...options.tools };
    this.conn = {
      confPath: options.confPath,
      user: options.user,
      ...(options.keyringPath === undefined ? {} : { keyringPath: options.keyringPath }),
    };
    checkCephName("pool", options.defaultPool);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.copyTimeoutMs = options.copyTimeoutMs ?? 30 * 60_000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 5_000;
  }

  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const seconds = Math.max(1, Math.floor(this.probeTimeoutMs / 1000));
    try {
      const out = await runCephTool(
        this.tools.rados,
        radosListPools(this.conn, seconds),
        this.probeTimeoutMs + 2_000,
        "listing Ceph pools",
      );
      const pools = out.split("\n").map((l) => l.trim());
      if (!pools.includes(this.options.defaultPool)) {
        return {
          ok: false,
          reason: `Ceph is reachable but has no pool ${this.options.defaultPool}: create it (ceph osd pool create, rbd pool init)`,
        };
      }
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: errorMessage(err) };
    }
  }

  async create(location: VolumeLocation, options: CreateVolumeOptions, progress?: ProgressFn): Promise<void> {
    const pool = this.pool(location);
    if (await this.exists(location)) return;
    // Built under a temporary name and renamed into place: a create cut off half-way leaves only a
    // `.partial` image, which the retry removes, never a volume with half its bytes.
    const partial = partialImage(location.image);
    await this.removeImage(pool, partial);
    try {
      if (options.fromSnapshot !== undefined) {
        progress?.({ step: "copying snapshot" });
        const from = options.fromSnapshot;
        await this.rbd(
          rbdArgv.deepCopy(
            this.conn,
            { pool: this.pool(from.source), image: from.source.image, snapshot: from.snapshot },
            pool,
            partial,
          ),
          "copying a snapshot",
          this.copyTimeoutMs,
        );
        await this.growTo(pool, partial, options.sizeBytes);
      } else if (options.fromImage !== undefined) {
        progress?.({ step: "importing image" });
        await this.importImage(options.fromImage, pool, partial);
        await this.growTo(pool, partial, options.sizeBytes);
      } else {
        await this.rbd(rbdArgv.create(this.conn, pool, partial, options.sizeBytes), "creating an image");
      }
      await this.rbd(rbdArgv.rename(this.conn, pool, partial, location.image), "renaming the new image");
    } catch (err) {
      await this.removeImage(pool, partial).catch(() => undefined);
      throw err;
    }
    progress?.({ step: "created", fraction: 1 });
  }

  async remove(location: VolumeLocation): Promise<void> {
    const pool = this.pool(location);
    await this.removeImage(pool, location.image);
    await this.removeImage(pool, partialImage(location.image));
  }

  async exists(location: VolumeLocation): Promise<boolean> {
    try {
      await this.rbd(rbdArgv.info(this.conn, this.pool(location), location.image), "reading an image");
      return true;
    } catch (err) {
      if (exitedWith(err, ENOENT)) return false;
      throw err;
    }
  }

  async snapshot(location: VolumeLocation, snapshot: string): Promise<void> {
    try {
      await this.rbd(
        rbdArgv.snapCreate(this.conn, this.pool(location), location.image, snapshot),
        "taking a snapshot",
      );
    } catch (err) {
      if (!exitedWith(err, EEXIST)) throw err;
    }
  }

  source(location: VolumeLocation, _readOnly: boolean): Extract<BlockSource, { kind: "rbd" }> {
    return {
      kind: "rbd",
      pool: this.pool(location),
      image: checkCephName("image", location.image),
      user: this.conn.user,
      confPath: this.conn.confPath,
      ...(this.conn.keyringPath === undefined ? {} : { keyringPath: this.conn.keyringPath }),
    };
  }

  /**
   * Blocklists every client instance that has the image open or locked, then breaks its lock. A
   * blocklisted instance can no longer write anything (the OSDs refuse it), even if its process
   * lives on; a restarted process is a new instance and must take the lock again. This node's own
   * tools are not holders: they open the image only for these calls.
   */
  async fence(location: VolumeLocation): Promise<VolumeHolder[]> {
    const pool = this.pool(location);
    const [status, locks] = await Promise.all([
      this.rbd(rbdArgv.status(this.conn, pool, location.image), "listing an image's watchers"),
      this.rbd(rbdArgv.lockList(this.conn, pool, location.image), "listing an image's locks"),
    ]);
    const lockList = parseLocks(locks);
    const holders = holdersOf(parseWatchers(status), lockList);
    for (const holder of holders) {
      if (holder.address === undefined) continue;
      await runCephTool(
        this.tools.ceph,
        cephBlocklistAdd(this.conn, holder.address),
        this.timeoutMs,
        `blocklisting ${holder.client}`,
      );
    }
    for (const lock of lockList) {
      try {
        await this.rbd(
          rbdArgv.lockRemove(this.conn, pool, location.image, lock.id, lock.locker),
          "breaking an image's lock",
        );
      } catch (err) {
        // Blocklisting the owner can already have released the lock: gone is what we want.
        if (!exitedWith(err, ENOENT)) throw err;
      }
    }
    return holders;
  }

  private pool(location: VolumeLocation): string {
    if (location.backend !== "rbd") {
      throw new BlixardError("INTERNAL", `the rbd backend was given a ${location.backend} volume`);
    }
    return checkCephName("pool", location.pool ?? this.options.defaultPool);
  }

  private rbd(argv: string[], what: string, timeoutMs = this.timeoutMs): Promise<string> {
    return runCephTool(this.tools.rbd, argv, timeoutMs, what);
  }

  private async removeImage(pool: string, image: string): Promise<void> {
    try {
      await this.rbd(rbdArgv.snapPurge(this.conn, pool, image), "removing an image's snapshots");
      await this.rbd(rbdArgv.remove(this.conn, pool, image), "removing an image");
    } catch (err) {
      if (!exitedWith(err, ENOENT)) throw err;
    }
  }

  /** A raw file is imported as it is; anything else (qcow2) is converted by qemu-img on the way in. */
  private async importImage(path: string, pool: string, image: string): Promise<void> {
    checkCephPath("source image", path);
    const info = JSON.parse(
      await runCephTool(
        this.tools.qemuImg,
        ["info", "--output=json", path],
        this.timeoutMs,
        "reading the source image",
      ),
    ) as { format?: unknown; "backing-filename"?: unknown };
    // A qcow2 whose header names a backing file would have qemu-img copy that host file into the
    // volume (a user's upload naming /etc/shadow): refused, as the local backend refuses it.
    if (info["backing-filename"] !== undefined) {
      throw new BlixardError(
        "INVALID_ARGUMENT",
        `the source image ${path} names a backing file; flatten it first (qemu-img convert -O qcow2) and start the volume from the result`,
      );
    }
    if (info.format === "raw") {
      await this.rbd(rbdArgv.import(this.conn, path, pool, image), "importing an image", this.copyTimeoutMs);
    } else {
      await runCephTool(
        this.tools.qemuImg,
        qemuImgConvertToRbd(this.conn, path, pool, image),
        this.copyTimeoutMs,
        "converting an image into Ceph",
      );
    }
  }

  private async growTo(pool: string, image: string, sizeBytes: number): Promise<void> {
    const info = JSON.parse(await this.rbd(rbdArgv.info(this.conn, pool, image), "reading an image")) as {
      size?: unknown;
    };
    if (typeof info.size === "number" && info.size < sizeBytes) {
      await this.rbd(rbdArgv.resize(this.conn, pool, image, sizeBytes), "growing an image");
    }
  }
}
