/**
 * What the jail (drivers/jail/) needs to know about a microvm.nix runner, and what it cannot hold
 * yet. Under `--isolation strict` a runner's microvm-run runs as the VM's uid with no capabilities,
 * so anything that needs root at run time is refused, naming the reason and `--isolation none`,
 * rather than run unjailed: tap and macvtap interfaces (microvm.nix's tap-up recreates them owned by
 * its own `microvm.user`, not the VM's uid), bridge interfaces (qemu-bridge-helper is setuid, which
 * no_new_privs disables), virtiofs shares (virtiofsd runs as root to serve host files), and a
 * `microvm.user` (qemu would switch uids itself).
 */
import { constants } from "node:fs";
import { lstat, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { BlixardError } from "../../core/errors.js";
import { closedAncestor } from "../jail/data-dir-access.js";
import type { RunnerLayout } from "./runner-layout.js";

/** Why a runner cannot run jailed, one phrase per reason; empty when it can. Pure. */
export function unjailableParts(layout: Pick<RunnerLayout, "helpers">, runScript: string): string[] {
  const reasons: string[] = [];
  if (layout.helpers["tap-up"]) reasons.push("tap interfaces (tap-up needs CAP_NET_ADMIN)");
  if (layout.helpers["macvtap-up"]) reasons.push("macvtap interfaces (macvtap-up needs CAP_NET_ADMIN)");
  if (layout.helpers["virtiofsd-run"]) reasons.push("virtiofs shares (virtiofsd runs as root)");
  // microvm.nix gives qemu `-netdev bridge,…,helper=…/qemu-bridge-helper`, a setuid program.
  if (/qemu-bridge-helper|-netdev\W+bridge\b/.test(runScript)) {
    reasons.push("bridge interfaces (qemu-bridge-helper is setuid, which no_new_privs disables)");
  }
  // `microvm.user` makes qemu switch uids itself (`-user`, `-runas`, `-run-with user=`): it cannot.
  if (/(^|\s)'?-(user|runas)'?\s|-run-with\W+user=/m.test(runScript)) {
    reasons.push("microvm.user set (qemu cannot switch uids inside the jail)");
  }
  return reasons;
}

/** The error a strict node gives for a runner it cannot jail. Pure. */
export function unjailableError(name: string, reasons: string[]): BlixardError {
  return new BlixardError(
    "FAILED_PRECONDITION",
    `VM ${name} cannot run jailed: its runner has ${reasons.join(", ")}; use user interfaces and 9p ` +
      "shares (or none), or run this node with --isolation none for trusted guests (docs/isolation.md)",
  );
}

/** The runner-specific files in the state dir its processes write: the volumes' images. Pure. */
export function runnerWritable(volumes: { image: string }[]): string[] {
  return volumes.map((v) => v.image);
}

/**
 * The jailed uid must be able to read and run bin/microvm-run and pass through every directory above
 * it. A runner in /nix/store always can; a prebuilt one under /root cannot, and qemu would fail with
 * a bare "Permission denied" in the console log.
 */
export async function checkRunnerReachable(name: string, runScript: string): Promise<void> {
  const closed = await closedAncestor(runScript);
  const mode = (await stat(runScript)).mode;
  const others = constants.S_IROTH | constants.S_IXOTH;
  if (closed === undefined && (mode & others) === others) return;
  throw new BlixardError(
    "FAILED_PRECONDITION",
    `VM ${name}'s runner ${runScript} is not readable by the VM's unprivileged uid` +
      `${closed ? ` (${closed} is closed to others)` : " (it is not world-readable and executable)"}; ` +
      "build it into the Nix store or put it (and what it names) in a world-readable directory",
  );
}

export async function readRunScript(runScript: string): Promise<string> {
  return readFile(runScript, "utf8").catch(() => "");
}

/**
 * The names in a state dir that only the node writes (runner-links.ts, build-cache.ts,
 * flake-dir.ts, disk-image.ts), with the `.partial` names it writes through.
 */
export const NODE_NAMES = [
  "flake",
  "build.json",
  "build.json.partial",
  "current",
  "current.partial",
  "booted",
  "booted.partial",
  "disk.img.partial",
];

/**
 * Before the node (root) writes its own files in a state dir that a jailed VM's uid owns: any of
 * those names the node did not create itself (a symlink to a host directory, a directory of the
 * VM's) is removed, the link itself and never its target, so the writes that follow land in the
 * state dir. Once the VM has stopped nothing of its uid is left to put them back (its cgroup is
 * emptied). Returns the names removed.
 */
export async function reclaimNodeNames(
  stateDir: string,
  nodeUid = process.getuid?.() ?? 0,
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of NODE_NAMES) {
    const path = join(stateDir, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info || info.uid === nodeUid) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
