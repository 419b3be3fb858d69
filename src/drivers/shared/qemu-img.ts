/**
 * qemu-img, the tool every driver with a disk image uses (qemu's overlays, microvm.nix's volumes):
 * run with an argv array and a timeout, its failure reported with its own stderr.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { BlixardError, errorMessage } from "../../core/errors.js";

const execFileAsync = promisify(execFile);

export interface ImageInfo {
  format: string;
  backingFilename?: string;
}

/** `timeoutMs`: a copy of a large image (a volume's `--from`) takes longer than the default minute. */
export async function qemuImg(binary: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
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
