/**
 * The qemu command line, built as an argv array (never a shell string) from a validated spec. Pure,
 * so that the exact command is snapshot-tested and recorded in vm.json for debugging.
 */
import { BlixardError } from "../../core/errors.js";
import type { BridgeAttachment } from "../../core/vm-network.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type { AttachedVolume } from "../../ports/vm-driver.js";
import type { BlockSource } from "../../ports/volume-backend.js";
import type { Accel } from "./accel.js";
import { passtNetdev } from "./passt.js";
import type { VmPaths } from "./vm-paths.js";

/**
 * Escapes a value inside qemu's `key=value,key=value` option syntax, where a literal comma is
 * written twice. Without this, a data dir containing a comma would inject extra options.
 */
export function qemuOptValue(value: string): string {
  return value.replaceAll(",", ",,");
}

export interface QemuArgsOptions {
  /**
   * TCG only: the TSC frequency to tell the guest kernel, so that it need not calibrate against the
   * PIT, which fails on a busy host and then hangs the boot (see host-tsc.ts).
   */
  tscKhz?: number;
  /**
   * Where the jailed qemu sees its kernel, initrd and base disk (bound into its state dir); the
   * spec's own paths when unset.
   */
  inputs?: { kernel?: string; initrd?: string; disk?: string };
  /** The base disk's format, needed to open it at `inputs.disk` instead of the overlay's recorded path. */
  diskFormat?: string;
  /** The network backend; passt's stream socket unless given (tests and the bare-qemu benchmark). */
  netdev?: string;
  /**
   * Bridge mode: the NIC is the VM's tap (no passt), with the MAC derived from its cluster address,
   * and the guest is told to configure itself by DHCP.
   */
  bridge?: BridgeAttachment;
  /**
   * The VM's volumes in the spec's order, at the paths qemu opens them (the jail's view when jailed):
   * virtio-blk devices after the boot disk; the `boot` one takes the boot disk's place.
   */
  volumes?: AttachedVolume[];
}

/** The kernel parameter that has the guest image run DHCP on its NIC (bridge mode). */
export const DHCP_PARAM = "blixard.net=dhcp";

/**
 * qemu's side of a tap: the persistent tap the node made for the VM, opened by name through the
 * /dev/net/tun of the VM's view. No helper scripts: qemu runs no program (`-sandbox spawn=deny`).
 */
export function tapNetdev(tap: string): string {
  return `tap,id=net0,ifname=${qemuOptValue(tap)},script=no,downscript=no`;
}

/**
 * qemu's seccomp filter: no obsolete syscalls, no setuid/setgid or capability changes, no fork or
 * exec, no scheduler or resource-limit changes. A guest that takes over qemu is held to what qemu
 * needs to emulate the machine.
 */
export const SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

/**
 * The kernel command line: serial console, then what the driver adds, then the user's arguments
 * last so that they win where Linux takes the last of a repeated parameter.
 */
export function kernelCmdline(name: string, spec: VmSpec, tscKhz?: number, dhcp = false): string {
  return [
    "console=ttyS0",
    tscKhz === undefined ? "" : `tsc_early_khz=${tscKhz}`,
    `blixard.name=${name}`,
    dhcp ? DHCP_PARAM : "",
    spec.cmdline.trim(),
  ]
    .filter((s) => s !== "")
    .join(" ");
}

/** The spec's kernel; the schema requires one for the qemu driver, so its absence is a bug upstream. */
export function qemuKernel(spec: VmSpec): string {
  if (spec.kernel === undefined) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `VM ${spec.name} has no kernel; the qemu driver needs spec.kernel`,
    );
  }
  return spec.kernel;
}

export function buildQemuArgs(
  name: string,
  spec: VmSpec,
  paths: VmPaths,
  accel: Accel,
  options: QemuArgsOptions = {},
): string[] {
  const args: string[] = [
    // microvm keeps its default pic/pit/rtc on purpose: `pic=off,pit=off` (as microvm.nix passes for
    // KVM) makes the Debian kernel hang at boot under TCG.
    ...["-M", "microvm"],
    ...["-accel", accel],
    // `host` only exists with KVM; `max` gives TCG guests every feature it can emulate.
    ...["-cpu", accel === "kvm" ? "host" : "max"],
    ...["-smp", String(spec.vcpus)],
    ...["-m", `${spec.memory}M`],
    ...["-nodefaults", "-no-user-config", "-nographic", "-display", "none"],
    // A guest reboot becomes a qemu exit: the agent, not the guest, decides whether to start again,
    // and Ctrl-Alt-Del (graceful stop) must end the process rather than reboot it.
    "-no-reboot",
    ...["-name", `${name},process=blixard-${name}`],
    ...["-kernel", options.inputs?.kernel ?? qemuKernel(spec)],
    ...["-sandbox", SANDBOX],
  ];
  const initrd = spec.initrd ? (options.inputs?.initrd ?? spec.initrd) : undefined;
  if (initrd) args.push("-initrd", initrd);
  const tscKhz = accel === "tcg" && options.tscKhz !== undefined ? Math.round(options.tscKhz) : undefined;
  args.push("-append", kernelCmdline(name, spec, tscKhz, options.bridge !== undefined));
  const bridge = options.bridge;
  args.push(
    // The console log is appended to, not truncated, so the output of earlier runs survives a restart.
    ...["-chardev", `file,id=ser0,path=${qemuOptValue(paths.consoleLog)},append=on`],
    ...["-serial", "chardev:ser0"],
    ...["-chardev", `socket,id=qmp0,path=${qemuOptValue(paths.qmpSocket)},server=on,wait=off`],
    ...["-mon", "chardev=qmp0,mode=control"],
    ...["-pidfile", paths.pidfile],
    // virtio-mmio defaults to the legacy (0.9) interface in qemu 7.2, and Linux's virtio_input refuses
    // legacy devices: without this the keyboard never appears and Ctrl-Alt-Del cannot be delivered.
    ...["-global", "virtio-mmio.force-legacy=false"],
    ...["-netdev", bridge ? tapNetdev(bridge.tap) : (options.netdev ?? passtNetdev(paths.passtSocket))],
    ...["-device", `virtio-net-device,netdev=net0${bridge ? `,mac=${qemuOptValue(bridge.mac)}` : ""}`],
    // The keyboard exists for one reason: the graceful stop sends Ctrl-Alt-Del through it.
    ...["-device", "virtio-keyboard-device"],
  );
  const volumes = options.volumes ?? [];
  const boot = volumes.find((v) => v.boot);
  // The boot volume first (the guest's /dev/vda), then the disk, then the other volumes in order.
  if (boot) args.push(...volumeDrive(boot, volumes.indexOf(boot)));
  if (spec.disk) {
    // The base image is never written: the guest writes to a copy-on-write overlay in its state dir.
    // Jailed, the base is bound into the state dir: qemu opens it there, not at the path the overlay
    // records, which the VM's uid may not be able to reach.
    const jailedBase = options.inputs?.disk;
    const backing =
      jailedBase && options.diskFormat
        ? `,backing.file.filename=${qemuOptValue(jailedBase)},backing.driver=${qemuOptValue(options.diskFormat)}`
        : "";
    args.push(
      ...["-drive", `id=disk0,file=${qemuOptValue(paths.diskOverlay)},if=none,format=qcow2${backing}`],
      ...["-device", "virtio-blk-device,drive=disk0"],
    );
  }
  volumes.forEach((v, i) => {
    if (!v.boot) args.push(...volumeDrive(v, i));
  });
  return args;
}

/** One volume's drive and device; ids by position, so no volume name reaches qemu's option syntax. */
function volumeDrive(volume: AttachedVolume, index: number): string[] {
  const id = `vol${index}`;
  const readOnly = volume.readOnly ? ",readonly=on" : "";
  return [
    ...["-drive", `id=${id},if=none,${blockFile(volume.source)}${readOnly}`],
    ...["-device", `virtio-blk-device,drive=${id}`],
  ];
}

/** qemu's `-drive` description of a block source. */
function blockFile(source: BlockSource): string {
  if (source.kind === "file") return `file=${qemuOptValue(source.path)},format=${source.format}`;
  // rbd's own option syntax separates with ':'; the names are checked ids, the paths are the node's.
  const keyring = source.keyringPath ? `:keyring=${source.keyringPath}` : "";
  const target = `rbd:${source.pool}/${source.image}:id=${source.user}:conf=${source.confPath}${keyring}`;
  return `file=${qemuOptValue(target)},format=raw`;
}
