/** Checks the host files a qemu spec names (kernel, initrd, disk) before qemu is started. */
import type { VmSpec } from "../../core/vm-spec.js";
import { checkReadableFile } from "../shared/input-files.js";
import { qemuKernel } from "./qemu-args.js";

/** Checks every file the spec refers to, in the order a reader would fix them. */
export async function checkSpecFiles(spec: VmSpec): Promise<void> {
  await checkReadableFile("kernel", qemuKernel(spec));
  if (spec.initrd) await checkReadableFile("initrd", spec.initrd);
  if (spec.disk) await checkReadableFile("disk", spec.disk);
}
