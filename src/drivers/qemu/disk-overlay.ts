/**
 * The copy-on-write overlay a VM boots from. The user's disk image is the overlay's read-only
 * backing file, so several VMs can share one base image and a guest can never corrupt it.
 */
import { execFile } from "node:child_process";
import { rename, rm } from "node:fs/promises";
import { promisify } from "node:util";
import { BlixardError, errorMessage } from "../../core/errors.js";

const execFileAsync = promisify(execFile);

export interface ImageInfo {
  format: string;
  backingFilename?: string;
}

export async function qemuImg(binary: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new BlixardError("DRIVER_FAILED", `${binary} ${args[0]} failed: ${stderr || errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** Reads an image's format and backing file. Shares locks, so it also works on a running VM's overlay. */
export async function imageInfo(binary: string, file: string): Promise<ImageInfo> {
  const stdout = await qemuImg(binary, ["info", "--force-share", "--output=json", file]);
  const info = JSON.parse(stdout) as { format?: unknown; "backing-filename"?: unknown };
  if (typeof info.format !== "string") {
    throw new BlixardError("DRIVER_FAILED", `qemu-img info ${file} reported no format`);
  }
  const backing = info["backing-filename"];
  return typeof backing === "string"
    ? { format: info.format, backingFilename: backing }
    : { format: info.format };
}

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
