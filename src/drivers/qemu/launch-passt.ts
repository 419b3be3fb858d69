/**
 * Starting a VM's passt before its qemu, and ending it after: spawned detached like qemu (through the
 * same jail when there is one), ready once its socket exists. passt ends by itself when qemu
 * disconnects (`--one-off`); the kill here covers a qemu that never connected and a stop that found
 * passt still there. The pid is always checked against the state dir first, never a reused pid.
 */
import { chmod, chown, rm, stat } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import { setprivArgs } from "../jail/jail-command.js";
import { VM_GROUP } from "../jail/vm-uid.js";
import { readSince } from "../shared/console-log.js";
import { pollUntil, withTimeout } from "../shared/poll.js";
import { isVmProcess } from "../shared/process-probe.js";
import { killQuietly, type OwnChild, spawnVmProcess } from "../shared/spawn-vm-process.js";
import type { VmPaths } from "./vm-paths.js";

export interface PasstLaunch {
  /** The argv to spawn: [binary, ...args], jailed or not. */
  command: string[];
  paths: VmPaths;
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

async function isSocket(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isSocket();
  } catch {
    return false;
  }
}

export async function launchPasst(launch: PasstLaunch): Promise<OwnChild> {
  const { paths, clock } = launch;
  await rm(paths.passtSocket, { force: true });
  const [binary, ...args] = launch.command as [string, ...string[]];
  const own = await spawnVmProcess(
    binary,
    args,
    paths.stateDir,
    paths.passtLog,
    () => {},
    "is passt installed?",
    launch.env,
  );
  // passt makes its socket 8–18 ms after it starts, and qemu waits on it: a 20 ms poll cost ~25 ms of
  // every VM start (docs/benchmarks.md). A stat every 2 ms for those few ms costs nothing.
  const ready = await pollUntil(clock, launch.timeoutMs ?? 5_000, 2, async () => {
    if (own.exit) return "exited";
    return (await isSocket(paths.passtSocket)) ? "ready" : undefined;
  });
  if (ready === "ready") return own;
  if (!own.exit) killQuietly(own.pid);
  await withTimeout(clock, own.exited, 1_000);
  // passt also reports each line it could not send to syslog (there is none here): noise, dropped.
  const said = (await readSince(paths.passtLog, 0, 1_000))
    .split("\n")
    .filter((line) => !/bytes to syslog$/.test(line))
    .join("\n")
    .trim();
  throw new BlixardError(
    "DRIVER_FAILED",
    `passt (user networking) did not ${ready === "exited" ? "stay up" : "open its socket"}${said ? `: ${said}` : ""}`,
  );
}

/** SIGKILL to a VM's passt if it is still running (qemu gone, or never connected). */
export async function stopPasst(pid: number | undefined, stateDir: string): Promise<boolean> {
  if (pid === undefined || !(await isVmProcess(pid, stateDir))) return false;
  killQuietly(pid);
  return true;
}

/**
 * passt's command without the jail (`--isolation none`). A root-started passt (Debian 12's) misbehaves
 * (with `--one-off` it exits before qemu connects; without, it drops to nobody and its socket never
 * appears), so a root node still runs it as the VM group's id, which the loopback guard covers; the
 * state dir is opened to that group for its socket. A node that is not root runs it as itself.
 */
export async function unjailedPasst(binary: string, args: string[], stateDir: string): Promise<string[]> {
  if (process.getuid?.() !== 0) return [binary, ...args];
  await chown(stateDir, 0, VM_GROUP);
  await chmod(stateDir, 0o770);
  return [...setprivArgs({ uid: VM_GROUP, gid: VM_GROUP, groups: [] }), binary, ...args];
}
