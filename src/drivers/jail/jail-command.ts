/**
 * The command line that runs a VM's processes (qemu, passt, a microvm.nix runner) jailed: a constant
 * launcher script joins the VM's cgroups (so the process is limited from its first instruction), then
 * `unshare --mount` gives it a private mount namespace in which a second constant script builds its
 * filesystem view (jail-view.ts: a fresh tmpfs root holding only the system's read-only program
 * dirs, a few devices, the VM's inputs and its state dir) and chroots into it, then `setpriv` drops
 * to the VM's uid with only the VM's groups, no capabilities (effective, permitted, inheritable,
 * ambient and bounding) and no_new_privs before exec'ing the program. Every step execs, so the pid
 * the node spawned is the program's pid. Pure: snapshot-tested, and recorded in vm.json. User input
 * only ever travels as argv, never inside the constant scripts.
 */

/**
 * Writes its own pid into each cgroup.procs file named before `--`, then execs the rest with umask
 * 077, so that what the VM's processes create (console log, sockets, pidfile) is theirs alone.
 */
export const JOIN_CGROUPS_SCRIPT =
  'while [ "$1" != -- ]; do echo $$ >"$1" || exit 126; shift; done; shift; umask 077; exec "$@"';

/**
 * Run inside the VM's fresh mount namespace, as root: `ROOT WD OWNER KIND SOURCE TARGET ... -- COMMAND`.
 * Mounts a small tmpfs on ROOT (an empty directory of the host's; the mount exists in this namespace
 * only), makes each entry inside it (`skeleton`, a copy of a prepared tree of links, device nodes and
 * mountpoints, so that what every VM shares costs one exec; a symlink; a bind mount over a new or
 * prepared directory or file, `ro-*` read-only, `rw-*` writable, `dev` a shared device node like
 * /dev/null; or `chr`, a character device MAJOR:MINOR of OWNER's alone, as Firecracker's jailer makes
 * /dev/kvm), makes the tmpfs read-only,
 * then execs COMMAND (with the launcher's umask 077 again) with ROOT as its root directory and WD
 * (inside it) as its working directory. Everything is made inside the new tmpfs, never in a
 * directory the VM owns, so a VM cannot plant a symlink that redirects a mount.
 */
export const VIEW_SCRIPT = [
  // The view's dirs must be open to the VM's uid; what the VM itself creates stays its own (077).
  'umask 022; root=$1; wd=$2; owner=$3; shift 3; mount -t tmpfs -o mode=755,nosuid,size=1m blixard-jail "$root" || exit 126',
  // A dir is made only where the skeleton has none: every exec saved is a millisecond of each start.
  'mk() { [ -d "$1" ] || mkdir -p "$1"; }',
  'while [ "$1" != -- ]; do dst=$root$3',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: sh parameter expansion, not a template
  'case $1 in skeleton) cp -a "$2/." "$root";; *-dir) mk "$dst";; link) mk "${dst%/*}" && ln -s "$2" "$dst";; chr) mk "${dst%/*}" && mknod -m 600 "$dst" c "${2%:*}" "${2#*:}" && chown "$owner:$owner" "$dst";; *) mk "${dst%/*}" && : >"$dst";; esac || exit 126',
  'case $1 in link|chr|skeleton) ;; ro-*) mount --bind -o ro,nosuid,nodev "$2" "$dst";; rw-*) mount --bind -o nosuid,nodev "$2" "$dst";; dev) mount --bind -o nosuid,noexec "$2" "$dst";; *) false;; esac || exit 126',
  "shift 3; done; shift",
  'mount -o remount,ro "$root" || exit 126',
  'umask 077; exec unshare --root="$root" --wd="$wd" -- "$@"',
].join("\n");

export type ViewKind = "skeleton" | "link" | "ro-dir" | "ro-file" | "rw-dir" | "rw-file" | "dev" | "chr";

export interface ViewEntry {
  kind: ViewKind;
  /**
   * The host path mounted there; for `link` the symlink's target; for `chr` MAJOR:MINOR; for
   * `skeleton` the prepared tree copied to the view's root.
   */
  source: string;
  /** Where it appears inside the view (absolute). */
  target: string;
}

/** A VM process's filesystem view: its root and what is in it (jail-view.ts builds one). */
export interface JailView {
  /** The host directory the view's tmpfs is mounted on, in the VM's mount namespace only. */
  mountpoint: string;
  /** The working directory inside the view (the VM's state dir, bound at its own path). */
  wd: string;
  /** The uid that owns the view's `chr` devices (the VM's). */
  owner: number;
  entries: ViewEntry[];
}

export interface JailPlan {
  uid: number;
  gid: number;
  /**
   * Supplementary groups: the VM group, which may traverse (not list) the node's data dir and vms
   * dir to reach the VM's own state dir.
   */
  groups: number[];
  /** The `cgroup.procs` files of the VM's cgroups (one per v1 hierarchy, one for v2). */
  cgroupProcs: string[];
  /**
   * The filesystem view the program runs in (within a private mount namespace); absent where the host
   * cannot make mount namespaces, and for programs that confine themselves (passt).
   */
  view?: JailView;
  shell?: string;
  setpriv?: string;
  unshare?: string;
}

/** The setpriv prefix: the VM's uid and gid, no supplementary groups, no capabilities, no_new_privs. */
export function setprivArgs(plan: Pick<JailPlan, "uid" | "gid" | "groups" | "setpriv">): string[] {
  return [
    plan.setpriv ?? "setpriv",
    `--reuid=${plan.uid}`,
    `--regid=${plan.gid}`,
    ...(plan.groups.length > 0 ? [`--groups=${plan.groups.join(",")}`] : ["--clear-groups"]),
    "--inh-caps=-all",
    "--ambient-caps=-all",
    "--bounding-set=-all",
    "--no-new-privs",
    "--",
  ];
}

/**
 * The plan for a program that confines itself and needs /proc to do so (passt: its own namespaces,
 * pivot_root to an empty dir, seccomp): the VM's uid, groups and cgroups, outside the view.
 */
export function selfConfinedPlan(plan: JailPlan): JailPlan {
  const { view: _, ...rest } = plan;
  return rest;
}

/** The full argv ([0] is the binary) that runs `program argv...` inside the jail. */
export function jailedCommand(plan: JailPlan, program: string, argv: string[]): string[] {
  const shell = plan.shell ?? "/bin/sh";
  let command = [...setprivArgs(plan), program, ...argv];
  if (plan.view) {
    const { mountpoint, wd, owner, entries } = plan.view;
    command = [
      plan.unshare ?? "unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      shell,
      "-c",
      VIEW_SCRIPT,
      "blixard-jail-view",
      mountpoint,
      wd,
      String(owner),
      ...entries.flatMap((e) => [e.kind, e.source, e.target]),
      "--",
      ...command,
    ];
  }
  return [shell, "-c", JOIN_CGROUPS_SCRIPT, "blixard-jail", ...plan.cgroupProcs, "--", ...command];
}
