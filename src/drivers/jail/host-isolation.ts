/**
 * What this host can do to jail VMs, found once at node start: root (to switch qemu to a VM uid),
 * setpriv, unshare and a working mount namespace, a writable cgroup hierarchy (v2, or v1's memory, cpu
 * and pids), and passt for user networking. `strict` (the default) refuses to start when a piece is
 * missing; `none` runs qemu unjailed, as root, and says so. passt is needed in both modes: without it
 * the only user networking is slirp, which hands every guest the host's loopback.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findOnPath } from "../shared/find-on-path.js";
import type { CgroupVersion } from "./cgroups.js";

export type IsolationMode = "strict" | "none";

export interface HostIsolation {
  /** What the node does: `strict` jails every VM; `none` runs them as the node's user. */
  mode: IsolationMode;
  /** The cgroup hierarchy VMs are limited in, when there is a writable one. */
  cgroup?: { version: CgroupVersion; root: string };
  mountNamespace: boolean;
  setpriv: boolean;
  root: boolean;
  passt?: string;
  /** Each missing piece, said so that the operator knows what to install or change. */
  missing: string[];
}

export interface ProbeOptions {
  mode: IsolationMode;
  cgroupRoot?: string;
  path?: string;
  uid?: number;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** v2 when the unified hierarchy is mounted at the root with memory, cpu and pids; else v1's three. */
export function probeCgroup(root: string): { version: CgroupVersion; root: string } | undefined {
  const controllersFile = join(root, "cgroup.controllers");
  if (existsSync(controllersFile)) {
    const controllers = readFileSync(controllersFile, "utf8").trim().split(/\s+/);
    const ok = ["memory", "cpu", "pids"].every((c) => controllers.includes(c));
    return ok && writable(root) ? { version: "v2", root } : undefined;
  }
  const ok = ["memory", "cpu", "pids"].every(
    (c) => existsSync(join(root, c, "tasks")) && writable(join(root, c)),
  );
  return ok ? { version: "v1", root } : undefined;
}

function mountNamespaceWorks(unshare: string | undefined): boolean {
  if (!unshare) return false;
  const result = spawnSync(unshare, ["--mount", "--propagation", "private", "true"], {
    stdio: "ignore",
    timeout: 5_000,
  });
  return result.status === 0;
}

export function probeHostIsolation(opts: ProbeOptions): HostIsolation {
  const path = opts.path ?? process.env["PATH"] ?? "";
  const uid = opts.uid ?? process.getuid?.() ?? -1;
  const missing: string[] = [];
  const root = uid === 0;
  if (!root) missing.push("the node does not run as root, so it cannot run qemu as a VM's own uid");
  const setpriv = findOnPath("setpriv", path) !== undefined;
  if (!setpriv) missing.push("setpriv is not on the PATH (install util-linux)");
  const unshare = findOnPath("unshare", path);
  const mountNamespace = root && mountNamespaceWorks(unshare);
  if (!mountNamespace) missing.push("cannot make a mount namespace (`unshare --mount` fails or is missing)");
  const cgroup = probeCgroup(opts.cgroupRoot ?? "/sys/fs/cgroup");
  if (!cgroup) {
    missing.push(
      "no writable cgroup hierarchy with memory, cpu and pids (cgroup v2, or v1's three) under /sys/fs/cgroup",
    );
  }
  const passt = findOnPath("passt", path);
  return {
    mode: opts.mode,
    ...(cgroup ? { cgroup } : {}),
    mountNamespace,
    setpriv,
    root,
    ...(passt ? { passt } : {}),
    missing,
  };
}

/** One line for the node's log and view: what the jail does here. */
export function describeIsolation(host: HostIsolation): string {
  if (host.mode === "none") return `none: qemu runs unjailed (${host.missing.join("; ") || "by choice"})`;
  return `strict: per-VM uid, seccomp, no capabilities, ${host.cgroup?.version ?? "no"} cgroups, private filesystem view`;
}

/** Why the node must not start with this host and mode, or undefined when it may. */
export function refusal(host: HostIsolation): string | undefined {
  if (!host.passt) {
    return (
      "passt is not installed: VMs' user networking needs it (qemu's own slirp would let every guest " +
      "reach this host's loopback services); install the passt package"
    );
  }
  if (host.mode === "strict" && host.missing.length > 0) {
    return (
      `cannot jail VMs on this host: ${host.missing.join("; ")}. Fix that, or pass --isolation none ` +
      "to run qemu unjailed (as the node's user, with every host file it can read)"
    );
  }
  return undefined;
}
