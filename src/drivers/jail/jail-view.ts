/**
 * What a jailed VM process sees of the host's filesystem (the anchor is Firecracker's jailer, which
 * chroots into a directory holding only the VM's kernel, disks and sockets): a fresh tmpfs root with
 * - the system's program directories read-only (/usr and the merged-usr links, or the Nix store),
 *   so the hypervisor and its shared libraries and firmware load;
 * - a handful of shared devices (null, zero, full, random, urandom) and, when the VM uses KVM, a
 *   /dev/kvm node of its own uid's (so the host's node can stay root's 0600, as on this machine);
 * - the VM's inputs (kernel, initrd, base disk) read-only at /in/;
 * - its file-backed volumes at /vol/<i>, writable unless attached read-only;
 * - the VM's state dir, writable, at its own path (sockets, console log, overlay, pidfile).
 * Not the node's data dir, store, token or keys, other VMs' state dirs, /etc, /home, /proc or /sys.
 * `viewEntries` is pure; `probeSystemDirs` reads which system dirs this host has and what they are.
 */
import { lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { JailView, ViewEntry } from "./jail-command.js";

/** The empty host directory each VM's view is mounted on, in that VM's mount namespace only. */
export const VIEW_MOUNTPOINT = "/run/blixard/jail-root";

/** Where the inputs appear inside the view. */
export const INPUTS_DIR = "/in";
/** Where a VM's volume files appear inside its view, by position: /vol/0, /vol/1, ... */
export const VOLUMES_DIR = "/vol";

/** The system directories a dynamically linked program needs (merged-usr links included). */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix/store"];

/** Devices every VM process may open; none of them gives access to host data. */
export const BASE_DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"];

/**
 * The loader's cache is the one file of /etc a dynamically linked program reads; without it the
 * loader searches the default paths, which are in the view anyway.
 */
const SYSTEM_FILES = ["/etc/ld.so.cache"];

export type SystemEntry = { path: string; link: string } | { path: string; kind: "dir" | "file" };

/** Which system dirs and files exist on this host, and which of them are symlinks (merged usr). */
export function probeSystemDirs(): SystemEntry[] {
  const found: SystemEntry[] = [];
  for (const path of [...SYSTEM_DIRS, ...SYSTEM_FILES]) {
    try {
      const info = lstatSync(path);
      if (info.isSymbolicLink()) found.push({ path, link: readlinkSync(path) });
      else if (info.isDirectory()) found.push({ path, kind: "dir" });
      else if (info.isFile()) found.push({ path, kind: "file" });
    } catch {}
  }
  return found;
}

export interface ViewRequest {
  stateDir: string;
  system: SystemEntry[];
  /** Host files the VM reads, by name: each appears read-only at /in/<name>. */
  inputs: Record<string, string>;
  /** The uid that owns the view's own devices (the VM's). */
  owner: number;
  /** Character devices made for the VM alone, by path and "MAJOR:MINOR" (for example /dev/kvm). */
  ownDevices?: { path: string; device: string }[];
  /** More host directories the VM reads (a microvm.nix runner's package), bound read-only at their own path. */
  readOnlyDirs?: string[];
  /** The VM's file-backed volumes, in order: each bound at /vol/<i>, read-only or writable. */
  volumes?: { path: string; readOnly: boolean }[];
  /** Absolute program paths run in the view; those outside the system dirs are bound read-only. */
  programs?: string[];
  /**
   * A prepared tree (skeleton.ts) holding the system links, the base devices and the mountpoints of
   * the system dirs and inputs: copied whole, in place of an exec per link and per device.
   */
  skeleton?: string;
}

function covered(path: string, dirs: string[]): boolean {
  return dirs.some((dir) => path === dir || path.startsWith(`${dir}/`));
}

/** The view for one VM. Pure. */
export function viewEntries(req: ViewRequest): JailView {
  const entries: ViewEntry[] = [];
  const dirs: string[] = [];
  if (req.skeleton) entries.push({ kind: "skeleton", source: req.skeleton, target: "/" });
  for (const sys of req.system) {
    if ("link" in sys) {
      if (!req.skeleton) entries.push({ kind: "link", source: sys.link, target: sys.path });
    } else {
      entries.push({ kind: sys.kind === "dir" ? "ro-dir" : "ro-file", source: sys.path, target: sys.path });
      if (sys.kind === "dir") dirs.push(sys.path);
    }
  }
  for (const dir of req.readOnlyDirs ?? []) {
    if (covered(dir, dirs)) continue;
    entries.push({ kind: "ro-dir", source: dir, target: dir });
    dirs.push(dir);
  }
  for (const program of req.programs ?? []) {
    if (program.startsWith("/") && !covered(program, dirs)) {
      entries.push({ kind: "ro-file", source: program, target: program });
    }
  }
  if (!req.skeleton) {
    for (const device of BASE_DEVICES) entries.push({ kind: "dev", source: device, target: device });
  }
  for (const own of req.ownDevices ?? []) entries.push({ kind: "chr", source: own.device, target: own.path });
  entries.push({ kind: "rw-dir", source: req.stateDir, target: req.stateDir });
  for (const [name, source] of Object.entries(req.inputs)) {
    entries.push({ kind: "ro-file", source, target: join(INPUTS_DIR, name) });
  }
  (req.volumes ?? []).forEach((v, i) => {
    entries.push({ kind: v.readOnly ? "ro-file" : "rw-file", source: v.path, target: `${VOLUMES_DIR}/${i}` });
  });
  return { mountpoint: VIEW_MOUNTPOINT, wd: req.stateDir, owner: req.owner, entries };
}

/** A character device's "MAJOR:MINOR" from its stat rdev (Linux's encoding). Pure. */
export function deviceNumbers(rdev: number): string {
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return `${major}:${minor}`;
}

/**
 * Where a jailed process's working directory shows from the host: /proc/<pid>/cwd of a process in
 * another mount namespace reads as the path through that namespace's mounts, so under the view's
 * mountpoint. Pure.
 */
export function hostCwdCandidates(stateDir: string): string[] {
  return [stateDir, `${VIEW_MOUNTPOINT}${stateDir}`];
}
