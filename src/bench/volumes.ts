/**
 * Volume figures (issue 15): the time a backend takes to create a 1 GiB volume, and sequential write
 * and read throughput through qemu's block layer on the backend's BlockSource (qemu-io, the code path
 * qemu's virtio-blk uses, measured on the host: the test guest image has no disk benchmark tool).
 * `measureVolumeBackend` takes any VolumeBackend, so the RBD backend is measured the same way.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BlockSource, VolumeBackend, VolumeLocation } from "../ports/volume-backend.js";
import { LocalVolumeBackend } from "../volumes/local/local-backend.js";

const run = promisify(execFile);
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface VolumeFigures {
  backend: string;
  createMs: number[];
  writeMiBps: number[];
  readMiBps: number[];
  mib: number;
}

function target(source: BlockSource): string[] {
  if (source.kind === "file") return ["-f", source.format, source.path];
  const key = source.keyringPath ? `:keyring=${source.keyringPath}` : "";
  return ["-f", "raw", `rbd:${source.pool}/${source.image}:id=${source.user}:conf=${source.confPath}${key}`];
}

/** Wall-clock MiB/s of one qemu-io command moving `mib` MiB. */
async function throughput(args: string[], mib: number): Promise<number> {
  const t0 = performance.now();
  await run("qemu-io", args, { maxBuffer: 16 * MiB });
  return mib / ((performance.now() - t0) / 1000);
}

/**
 * `rounds` times: create a 1 GiB volume at a fresh location (timed), write `mib` MiB sequentially in
 * 1 MiB requests, read them back, remove it.
 */
export async function measureVolumeBackend(
  backend: VolumeBackend,
  location: (round: number) => VolumeLocation,
  rounds: number,
  mib = 256,
): Promise<VolumeFigures> {
  const figures: VolumeFigures = { backend: backend.name, createMs: [], writeMiBps: [], readMiBps: [], mib };
  for (let round = 0; round < rounds; round++) {
    const at = location(round);
    const t0 = performance.now();
    await backend.create(at, { sizeBytes: GiB });
    figures.createMs.push(performance.now() - t0);
    const args = target(backend.source(at, false));
    // One sequential pass, flushed to the file before the clock stops (qemu's default writeback cache).
    const writes = `write -P 0x5a 0 ${mib}M`;
    figures.writeMiBps.push(await throughput(["-c", writes, "-c", "flush", ...args], mib));
    figures.readMiBps.push(await throughput(["-r", "-c", `read -P 0x5a 0 ${mib}M`, ...args], mib));
    await backend.remove(at);
  }
  return figures;
}

/** The local backend in a scratch dir under the system's temp dir. */
export async function measureLocalVolumes(rounds: number, mib = 256): Promise<VolumeFigures> {
  const dir = await mkdtemp(join(tmpdir(), "blixard-bench-volumes-"));
  try {
    const backend = new LocalVolumeBackend({ dir });
    return await measureVolumeBackend(
      backend,
      (round) => ({ backend: "local", image: `vol-${round.toString(16).padStart(16, "0")}` }),
      rounds,
      mib,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface GuestVolumeFigures {
  mib: number;
  writeMiBps: number[];
  readMiBps: number[];
}

/**
 * Guest sequential throughput on a volume: a node, a volume made by `create` (the CLI arguments after
 * `volume create NAME`, e.g. `["--size", "1G"]` or `["--size", "1G", "--backend", "rbd", ...]`), a VM
 * with a base disk and the volume (its vdb) and the probe, then `rounds` runs of the guest's `diskio`
 * probe (dd with fsync, then O_DIRECT reads; the guest's clock, 10 ms resolution).
 */
export async function measureGuestVolume(
  kernel: string,
  initrd: string,
  create: string[],
  rounds: number,
  mib = 64,
): Promise<GuestVolumeFigures> {
  const { BenchNode, freePort, waitFor } = await import("./bench-node.js");
  const node = new BenchNode();
  const figures: GuestVolumeFigures = { mib, writeMiBps: [], readMiBps: [] };
  try {
    await node.start();
    node.cli("volume", "create", "bench", ...create);
    await waitFor("the volume", () => node.cli("volume", "get", "bench").includes("Available"), 60_000);
    const port = await freePort();
    node.cli(
      "vm",
      "create",
      "bench",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--disk",
      initrd,
      "--volume",
      "bench",
      "--forward",
      `${port}:80`,
      "--cmdline",
      "blixard.probe=1",
      "--start",
    );
    const probe = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/cgi-bin/diskio?mib=${mib}`);
      return { status: res.status, body: (await res.text()).trim() };
    };
    await waitFor(
      "the guest's probe",
      async () => (await probe().catch(() => undefined))?.status === 200,
      120_000,
    );
    for (let round = 0; round < rounds; round++) {
      const { status, body } = await probe();
      const [writeMs, readMs] = body.split(" ").map(Number);
      if (status !== 200 || !writeMs || !readMs) throw new Error(`diskio probe answered ${status}: ${body}`);
      figures.writeMiBps.push(mib / (writeMs / 1000));
      figures.readMiBps.push(mib / (readMs / 1000));
    }
    return figures;
  } finally {
    await node.stop();
  }
}
