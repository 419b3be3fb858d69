/**
 * What `blixard volume ...` do, through the VolumeService. The size is read here (`1G`, `512M`);
 * everything else is validated by the node, which names any field it refuses.
 */
import { resolve } from "node:path";
import { parseSize } from "../core/volume.js";
import { volumeClient } from "./client.js";
import type { GlobalOptions } from "./globals.js";
import { outputFormat, printData } from "./output.js";
import { UsageError } from "./usage-error.js";
import { volumeDetail, volumeJson, volumeTable } from "./volume-output.js";

export interface CreateVolumeFlags {
  size: string;
  backend?: string;
  pool?: string;
  from?: string;
  node?: string;
  output?: string;
}

export async function createVolume(options: GlobalOptions, name: string, flags: CreateVolumeFlags) {
  const format = outputFormat(flags.output);
  const sizeBytes = parseSize(flags.size);
  if (sizeBytes === undefined) {
    throw new UsageError(
      `--size: ${JSON.stringify(flags.size)} is not a size; pass e.g. --size 1G or --size 512M`,
    );
  }
  const { volume } = await volumeClient(options).createVolume({
    name,
    sizeBytes: BigInt(sizeBytes),
    backend: flags.backend ?? "",
    pool: flags.pool ?? "",
    fromImage: flags.from === undefined ? "" : resolve(flags.from),
    node: flags.node ?? "",
  });
  if (!volume) throw new Error("the node returned no volume");
  await printData(
    format,
    volumeJson(volume),
    () => `volume/${name} created (${volume.state}) on ${volume.node}\n`,
  );
}

export async function listVolumes(options: GlobalOptions, flags: { output?: string }) {
  const format = outputFormat(flags.output);
  const { volumes } = await volumeClient(options).listVolumes({});
  await printData(format, volumes.map(volumeJson), () => volumeTable(volumes));
}

export async function getVolume(options: GlobalOptions, name: string, flags: { output?: string }) {
  const format = outputFormat(flags.output);
  const { volume } = await volumeClient(options).getVolume({ name });
  if (!volume) throw new Error("the node returned no volume");
  await printData(format, volumeJson(volume), () => volumeDetail(volume));
}

export async function deleteVolume(options: GlobalOptions, name: string) {
  await volumeClient(options).deleteVolume({ name });
  process.stdout.write(`volume/${name} deleting\n`);
}

export async function snapshotVolume(options: GlobalOptions, name: string, snapshot: string) {
  await volumeClient(options).snapshotVolume({ name, snapshot });
  process.stdout.write(`volume/${name} snapshot ${snapshot} requested\n`);
}

/** `clone SRC@SNAP NEW`. */
export async function cloneVolume(options: GlobalOptions, from: string, name: string) {
  const at = from.indexOf("@");
  if (at <= 0 || at === from.length - 1) {
    throw new UsageError(`${JSON.stringify(from)} is not SOURCE@SNAPSHOT; pass e.g. data@monday`);
  }
  const { volume } = await volumeClient(options).cloneVolume({
    source: from.slice(0, at),
    snapshot: from.slice(at + 1),
    name,
  });
  process.stdout.write(`volume/${name} created (${volume?.state ?? "Creating"}) from ${from}\n`);
}
