/**
 * Test support: a runner directory in microvm.nix's layout (see drivers/microvm-nix/runner-layout.ts)
 * whose bin/microvm-run boots the real qemu test guest, as microvm.nix's qemu runner would: paths
 * relative to its working directory (the control socket), the serial console on stdout. Its helper
 * scripts note in `events.log` (in the VM's state dir) when they ran, so that tests can check the
 * order. microvm-shutdown sends Ctrl-Alt-Del over QMP and returns at once, before the VM is down, as
 * microvm.nix's may. Like microvm.nix's qemu runner it passes `-sandbox on` (seccomp), and like a
 * runner in the Nix store it must be readable by the VM's unprivileged uid when the node jails it:
 * put the runner in a world-readable directory (not under /root). Like a runner's closure in the
 * store, the kernel and initrd are copied into the runner's own directory (share/boot/): a jailed
 * runner sees only its own package and the Nix store.
 */
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

export interface RunnerFixture {
  /** Where to write the runner. */
  dir: string;
  name: string;
  kernel: string;
  initrd: string;
  memory?: number;
  cmdline?: string;
  /** host → guest TCP forwards on loopback (qemu user networking). */
  forwards?: { host: number; guest: number }[];
  /** Given to the TCG guest as tsc_early_khz (see drivers/qemu/host-tsc.ts). */
  tscKhz?: number;
  /** Adds bin/tap-up and bin/tap-down. */
  tap?: boolean;
  /** Adds bin/virtiofsd-run with one (pretend) virtiofsd socket per tag. */
  virtiofsTags?: string[];
  /** bin/microvm-run exits with this code instead of starting qemu. */
  failWith?: number;
  /**
   * microvm-run first starts a `sleep` in the background (its pid in `survivor.pid`), as a guest that
   * took over qemu could fork a helper, and the VM's stop must not leave it running.
   */
  leaveBehind?: boolean;
  /** The qemu binary; qemu-system-x86_64 on the PATH by default. */
  qemu?: string;
}

/** Single-quoted for sh. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The qemu command line a microvm.nix qemu runner would run for the test guest. */
export function fixtureQemuArgs(f: RunnerFixture): string[] {
  const append = [
    "console=ttyS0",
    f.tscKhz === undefined ? "" : `tsc_early_khz=${Math.round(f.tscKhz)}`,
    `blixard.name=${f.name}`,
    f.cmdline ?? "",
  ]
    .filter((s) => s !== "")
    .join(" ");
  const hostfwd = (f.forwards ?? []).map((p) => `,hostfwd=tcp:127.0.0.1:${p.host}-:${p.guest}`).join("");
  return [
    ...["-name", `${f.name},process=microvm@${f.name}`],
    ...["-M", "microvm", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", `${f.memory ?? 256}M`],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-sandbox", "on"],
    ...["-kernel", f.kernel, "-initrd", f.initrd, "-append", append],
    ...["-chardev", "stdio,id=stdio,signal=off", "-serial", "chardev:stdio"],
    ...["-qmp", "unix:control.socket,server=on,wait=off"],
    ...["-global", "virtio-mmio.force-legacy=false"],
    ...["-netdev", `user,id=user0${hostfwd}`, "-device", "virtio-net-device,netdev=user0"],
    ...["-device", "virtio-keyboard-device"],
  ];
}

const SHUTDOWN_JS = `
const fs = require("node:fs");
const net = require("node:net");
fs.appendFileSync("events.log", "microvm-shutdown\\n");
const key = (down, data) => ({ type: "key", data: { down, key: { type: "qcode", data } } });
const socket = net.connect("control.socket", () => {
  socket.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\\n");
  socket.write(JSON.stringify({ execute: "input-send-event", arguments: { events: [
    key(true, "ctrl"), key(true, "alt"), key(true, "delete"),
    key(false, "delete"), key(false, "alt"), key(false, "ctrl"),
  ] } }) + "\\n");
  // Returns before the guest is down, as microvm.nix's microvm-shutdown may.
  setTimeout(() => process.exit(0), 200);
});
socket.on("error", (err) => { console.error("microvm-shutdown: " + err.message); process.exit(1); });
`;

function script(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o755 });
  chmodSync(path, 0o755);
}

export function writeRunnerFixture(fixture: RunnerFixture): string {
  const bin = join(fixture.dir, "bin");
  mkdirSync(bin, { recursive: true });
  const boot = join(fixture.dir, "share", "boot");
  mkdirSync(boot, { recursive: true });
  const own = (file: string) => {
    const copy = join(boot, basename(file));
    copyFileSync(file, copy);
    chmodSync(copy, 0o644);
    return copy;
  };
  const f = { ...fixture, kernel: own(fixture.kernel), initrd: own(fixture.initrd) };
  mkdirSync(join(f.dir, "share", "microvm"), { recursive: true });
  const note = (what: string) => `echo ${what} >> events.log`;
  const run =
    f.failWith !== undefined
      ? `echo 'microvm-run: this runner fails on purpose' >&2\nexit ${f.failWith}`
      : `exec ${shellQuote(f.qemu ?? "qemu-system-x86_64")} ${fixtureQemuArgs(f).map(shellQuote).join(" ")}`;
  const survivor = f.leaveBehind ? "sleep 3600 </dev/null >/dev/null 2>&1 &\necho $! > survivor.pid\n" : "";
  script(join(bin, "microvm-run"), `#!/bin/sh\nset -eu\n${note("microvm-run")}\n${survivor}${run}\n`);
  script(join(bin, "microvm-shutdown"), `#!${process.execPath}\n${SHUTDOWN_JS}`);
  if (f.tap) {
    script(join(bin, "tap-up"), `#!/bin/sh\n${note("tap-up")}\n`);
    script(join(bin, "tap-down"), `#!/bin/sh\n${note("tap-down")}\n`);
    writeFileSync(join(f.dir, "share", "microvm", "tap-interfaces"), `vm-${f.name}\n`);
  }
  const tags = f.virtiofsTags ?? [];
  if (tags.length > 0) {
    const sockets = tags.map((tag) => `${f.name}-virtiofs-${tag}.sock`);
    for (const [i, tag] of tags.entries()) {
      const dir = join(f.dir, "share", "microvm", "virtiofs", tag);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "socket"), `${sockets[i]}\n`);
      writeFileSync(join(dir, "source"), "/srv\n");
    }
    // Stands in for supervisord: creates the sockets, then stays until it is stopped.
    script(
      join(bin, "virtiofsd-run"),
      `#!/bin/sh\n${note("virtiofsd-run")}\nsleep 0.3\n${sockets.map((s) => `: > ${shellQuote(s)}`).join("\n")}\nexec sleep 3600\n`,
    );
  }
  return f.dir;
}
