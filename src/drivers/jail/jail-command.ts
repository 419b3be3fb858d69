/**
 * The command line that runs a VM's processes (qemu, passt, a microvm.nix runner) jailed: a constant
 * launcher script joins the VM's cgroups (so the process is limited from its first instruction), then
 * `unshare --mount` gives it a private mount namespace in which its inputs are bound read-only into its
 * state dir, then `setpriv` drops to the VM's uid with only the VM group, no capabilities (effective,
 * permitted, inheritable, ambient and bounding) and no_new_privs before exec'ing the program. Every
 * step execs, so the pid the node spawned is the program's pid. Pure: snapshot-tested, and recorded
 * in vm.json. User input only ever travels as argv, never inside the constant scripts.
 */

/**
 * Writes its own pid into each cgroup.procs file named before `--`, then execs the rest with umask
 * 077, so that what the VM's processes create (console log, sockets, pidfile) is theirs alone.
 */
export const JOIN_CGROUPS_SCRIPT =
  'while [ "$1" != -- ]; do echo $$ >"$1" || exit 126; shift; done; shift; umask 077; exec "$@"';

/** Bind-mounts each SOURCE TARGET pair before `--` read-only (nosuid, nodev), then execs the rest. */
export const BIND_INPUTS_SCRIPT =
  'while [ "$1" != -- ]; do mount --bind -o ro,nosuid,nodev "$1" "$2" || exit 126; shift 2; done; shift; exec "$@"';

export interface Bind {
  /** A host file the VM reads (kernel, initrd, base disk), wherever it lives. */
  source: string;
  /** An empty placeholder file inside the VM's state dir that the source is mounted over. */
  target: string;
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
  /** Read-only binds in a private mount namespace; none means no namespace is made. */
  binds: Bind[];
  /** Whether to make a private mount namespace (with or without binds). */
  mountNamespace: boolean;
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

/** The full argv ([0] is the binary) that runs `program argv...` inside the jail. */
export function jailedCommand(plan: JailPlan, program: string, argv: string[]): string[] {
  const shell = plan.shell ?? "/bin/sh";
  let command = [...setprivArgs(plan), program, ...argv];
  if (plan.mountNamespace) {
    command = [
      plan.unshare ?? "unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      shell,
      "-c",
      BIND_INPUTS_SCRIPT,
      "blixard-jail-binds",
      ...plan.binds.flatMap((b) => [b.source, b.target]),
      "--",
      ...command,
    ];
  }
  return [shell, "-c", JOIN_CGROUPS_SCRIPT, "blixard-jail", ...plan.cgroupProcs, "--", ...command];
}
