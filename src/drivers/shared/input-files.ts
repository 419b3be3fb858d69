/**
 * Checks that a host file a spec names (kernel, initrd, disk, runner) is usable before the VM's
 * process is started, so that the user reads "kernel /x does not exist" rather than a hypervisor
 * error from a log file.
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";

export async function checkReadableFile(field: string, file: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === "ENOENT"
        ? `does not exist on this node; copy it there, build one with scripts/guest-image/build.sh, or fix spec.${field}`
        : `cannot be examined (${code}); check the permissions of its directories`;
    throw new BlixardError("FAILED_PRECONDITION", `${field} ${file} ${hint}`, { cause: err });
  }
  if (!info.isFile()) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `${field} ${file} is not a regular file; set spec.${field} to a file`,
    );
  }
  try {
    await access(file, constants.R_OK);
  } catch (err) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `${field} ${file} is not readable by the agent (uid ${process.getuid?.() ?? "?"}); fix its permissions`,
      { cause: err },
    );
  }
}
