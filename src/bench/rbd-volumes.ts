/**
 * RBD volumes against local ones (issue 15), on a throwaway single-node Ceph (scripts/ceph-dev.sh:
 * one monitor and one memstore OSD on loopback, so the figures show the RBD protocol's cost, not a
 * disk's): the time to create a 1 GiB volume on each backend, and sequential write then read
 * throughput through qemu's block layer (qemu-io: the code a guest's virtio-blk requests end in),
 * 4 MiB requests over 256 MiB, each run in a fresh volume. The rounds alternate the backends.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import type { BlockSource, VolumeBackend, VolumeLocation } from "../ports/volume-backend.js";
import { startTestCeph } from "../testing/ceph.js";
import { LocalVolumeBackend } from "../volumes/local/local-backend.js";
import { RbdBackend } from "../volumes/rbd/rbd-backend.js";

const run = promisify(execFile);
const MiB = 1024 ** 2;

export interface BackendFigures {
  createMs: number[];
  writeMiBs: number[];
  readMiBs: number[];
}

export interface RbdVolumeFigures {
  rbd: BackendFigures;
  local: BackendFigures;
  mib: number;
}

function target(source: BlockSource): string[] {
  if (source.kind === "file") return ["-f", source.format, source.path];
  const key = source.keyringPath ? `:keyring=${source.keyringPath}` : "";
  return ["-f", "raw", `rbd:${source.pool}/${source.image}:id=${source.user}:conf=${source.confPath}${key}`];
}

/** MiB/s of `mib` MiB in 4 MiB requests, from the times qemu-io reports per request (no process start). */
async function sequential(source: BlockSource, op: "write" | "read", mib: number): Promise<number> {
  const commands = Array.from({ length: mib / 4 }, (_, i) => [
    "-c",
    `${op} -P 0x5a ${i * 4 * MiB} ${4 * MiB}`,
  ]).flat();
  const { stdout } = await run(
    "qemu-io",
    [...(op === "read" ? ["-r"] : []), ...commands, ...target(source)],
    {
      maxBuffer: 16 * MiB,
    },
  );
  const seconds = [...stdout.matchAll(/ops; (?:(\d+):)?(\d+\.\d+) sec/g)].reduce(
    (sum, m) => sum + Number(m[1] ?? 0) * 60 + Number(m[2]),
    0,
  );
  if (seconds === 0) throw new Error(`qemu-io reported no times: ${stdout.slice(0, 400)}`);
  return mib / seconds;
}

async function round(backend: VolumeBackend, at: VolumeLocation, mib: number, into: BackendFigures) {
  const began = performance.now();
  await backend.create(at, { sizeBytes: 1024 * MiB });
  into.createMs.push(performance.now() - began);
  const source = backend.source(at, false);
  into.writeMiBs.push(await sequential(source, "write", mib));
  into.readMiBs.push(await sequential(source, "read", mib));
  await backend.remove(at);
}

export async function measureRbdVolumes(rounds: number, mib = 256): Promise<RbdVolumeFigures> {
  const ceph = await startTestCeph();
  const dir = await mkdtemp(join(tmpdir(), "blixard-bench-volumes-"));
  const figures: RbdVolumeFigures = {
    rbd: { createMs: [], writeMiBs: [], readMiBs: [] },
    local: { createMs: [], writeMiBs: [], readMiBs: [] },
    mib,
  };
  try {
    const rbd = new RbdBackend({
      confPath: ceph.confPath,
      user: ceph.user,
      keyringPath: ceph.keyringPath,
      defaultPool: ceph.pool,
    });
    const local = new LocalVolumeBackend({ dir: join(dir, "volumes") });
    for (let r = 0; r < rounds; r++) {
      const id = (r + 1).toString(16).padStart(16, "0");
      await round(rbd, { backend: "rbd", pool: ceph.pool, image: `blixard-vol-${id}` }, mib, figures.rbd);
      await round(local, { backend: "local", image: `vol-${id}` }, mib, figures.local);
    }
  } finally {
    await ceph.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}
