/**
 * A microvm-nix VM's disk: the spec's base image copied once into the state dir as a raw image
 * (microvm.nix attaches volumes as raw), through a `.partial` file renamed into place, so a copy cut
 * short is never taken for a disk.
 */
import { constants } from "node:fs";
import { copyFile, rename, rm } from "node:fs/promises";
import { fileExists } from "../shared/files.js";
import { checkReadableFile } from "../shared/input-files.js";
import { imageInfo, qemuImg } from "../shared/qemu-img.js";

/** Copies `base` to `image` unless it exists already; returns whether it copied. */
export async function ensureDiskImage(qemuImgBinary: string, base: string, image: string): Promise<boolean> {
  if (await fileExists(image)) return false;
  await checkReadableFile("disk", base);
  const partial = `${image}.partial`;
  await rm(partial, { force: true });
  try {
    const { format } = await imageInfo(qemuImgBinary, base);
    // EXCL: never through a link the VM's uid put in its state dir.
    if (format === "raw") await copyFile(base, partial, constants.COPYFILE_EXCL);
    else await qemuImg(qemuImgBinary, ["convert", "-q", "-f", format, "-O", "raw", base, partial]);
    await rename(partial, image);
  } finally {
    await rm(partial, { force: true });
  }
  return true;
}
