/**
 * What a runner directory holds, as microvm.nix lays it out (lib/runner.nix and the binScripts of
 * its NixOS modules): `bin/microvm-run` always; `bin/microvm-shutdown` when the hypervisor has a
 * control socket; `bin/tap-up`/`tap-down` and `bin/macvtap-up`/`macvtap-down` for tap and macvtap
 * interfaces; `bin/virtiofsd-run` (and `virtiofsd-shutdown`) for virtiofs shares, whose sockets are
 * listed in `share/microvm/virtiofs/<tag>/socket`, relative to the VM's state dir.
 */
import { constants } from "node:fs";
import { access, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BlixardError } from "../../core/errors.js";

export const HELPERS = [
  "microvm-run",
  "microvm-shutdown",
  "tap-up",
  "tap-down",
  "macvtap-up",
  "macvtap-down",
  "virtiofsd-run",
  "virtiofsd-shutdown",
] as const;
export type Helper = (typeof HELPERS)[number];

export interface RunnerLayout {
  dir: string;
  /** Absolute paths of the helpers the runner provides. */
  helpers: Partial<Record<Helper, string>>;
  /** Sockets virtiofsd-run will create, relative to the state dir. */
  virtiofsSockets: string[];
}

async function executable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export async function readRunner(dir: string): Promise<RunnerLayout> {
  const helpers: Partial<Record<Helper, string>> = {};
  for (const helper of HELPERS) {
    const file = join(dir, "bin", helper);
    if (await executable(file)) helpers[helper] = file;
  }
  if (helpers["microvm-run"] === undefined) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `${dir} is not a microvm.nix runner: it has no executable bin/microvm-run (build config.microvm.declaredRunner of a NixOS configuration)`,
    );
  }
  const virtiofsSockets: string[] = [];
  const sharesDir = join(dir, "share", "microvm", "virtiofs");
  const tags = await readdir(sharesDir).catch(() => [] as string[]);
  for (const tag of tags.sort()) {
    const socket = (await readFile(join(sharesDir, tag, "socket"), "utf8").catch(() => "")).trim();
    if (socket !== "") virtiofsSockets.push(socket);
  }
  return { dir, helpers, virtiofsSockets };
}
