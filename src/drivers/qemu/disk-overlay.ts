/**
 * The copy-on-write overlay a VM boots from. The user's disk image is the overlay's read-only
 * backing file, so several VMs can share one base image and a guest can never corrupt it.
 */
import { rename, rm } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import { imageInfo, qemuImg } from "../shared/qemu-img.js";

/**
 * Creates `overlay` backed by `base` unless it exists. An existing overlay backed by a different
 * image is refused rather than silently reused or replaced: it holds the guest's writes.
 */
export async function ensureOverlay(
  binary: string,
  base: string,
  overlay: string,
  exists: boolean,
): Promise<"created" | "kept"> {
  if (exists) {
    const info = await imageInfo(binary, overlay);
    if (info.backingFilename !== base) {
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `the VM's disk overlay ${overlay} is backed by ${info.backingFilename ?? "nothing"}, not ${base}; ` +
          "remove the VM (discarding its disk writes) to change its disk image",
      );
    }
    return "kept";
  }
  const { format } = await imageInfo(binary, base);
  // Created under a temporary name and renamed, so an interrupted prepare never leaves a half-made
  // overlay that a later start would trust.
  const partial = `${overlay}.partial`;
  await rm(partial, { force: true });
  try {
    await qemuImg(binary, ["create", "-q", "-f", "qcow2", "-F", format, "-b", base, partial]);
    await rename(partial, overlay);
  } finally {
    await rm(partial, { force: true });
  }
  return "created";
}
