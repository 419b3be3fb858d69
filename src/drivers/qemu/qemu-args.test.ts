import { describe, expect, it } from "vitest";
import { bridgeAttachment } from "../../core/vm-network.js";
import { parseVmSpec, type VmSpecInput } from "../../core/vm-spec.js";
import { buildQemuArgs, kernelCmdline, qemuOptValue } from "./qemu-args.js";
import { vmPaths } from "./vm-paths.js";

function spec(overrides: Partial<VmSpecInput> = {}) {
  return parseVmSpec({ name: "web-1", kernel: "/images/vmlinuz", ...overrides });
}

const paths = vmPaths("/var/lib/blixard/vms", "web-1");

describe("buildQemuArgs", () => {
  it("builds a TCG microvm with console, QMP, pidfile, networking and a keyboard", () => {
    const args = buildQemuArgs(
      "web-1",
      spec({ initrd: "/images/initrd.img", vcpus: 2, memory: 512, forwards: [{ host: 8080, guest: 80 }] }),
      paths,
      "tcg",
    );
    expect(args).toMatchInlineSnapshot(`
      [
        "-M",
        "microvm",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-smp",
        "2",
        "-m",
        "512M",
        "-nodefaults",
        "-no-user-config",
        "-nographic",
        "-display",
        "none",
        "-no-reboot",
        "-name",
        "web-1,process=blixard-web-1",
        "-kernel",
        "/images/vmlinuz",
        "-sandbox",
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        "-initrd",
        "/images/initrd.img",
        "-append",
        "console=ttyS0 blixard.name=web-1",
        "-chardev",
        "file,id=ser0,path=/var/lib/blixard/vms/web-1/console.log,append=on",
        "-serial",
        "chardev:ser0",
        "-chardev",
        "socket,id=qmp0,path=/var/lib/blixard/vms/web-1/qmp.sock,server=on,wait=off",
        "-mon",
        "chardev=qmp0,mode=control",
        "-pidfile",
        "/var/lib/blixard/vms/web-1/qemu.pid",
        "-global",
        "virtio-mmio.force-legacy=false",
        "-netdev",
        "stream,id=net0,server=off,addr.type=unix,addr.path=/var/lib/blixard/vms/web-1/passt.sock",
        "-device",
        "virtio-net-device,netdev=net0",
        "-device",
        "virtio-keyboard-device",
      ]
    `);
  });

  it("uses -cpu host only under KVM", () => {
    const kvm = buildQemuArgs("web-1", spec(), paths, "kvm");
    const tcg = buildQemuArgs("web-1", spec(), paths, "tcg");
    expect(kvm[kvm.indexOf("-cpu") + 1]).toBe("host");
    expect(kvm[kvm.indexOf("-accel") + 1]).toBe("kvm");
    expect(tcg[tcg.indexOf("-cpu") + 1]).toBe("max");
  });

  it("never turns off the PIC or PIT, which hangs TCG boots", () => {
    for (const accel of ["kvm", "tcg"] as const) {
      const args = buildQemuArgs("web-1", spec(), paths, accel);
      expect(args[args.indexOf("-M") + 1]).toBe("microvm");
      expect(args.join(" ")).not.toMatch(/pic=off|pit=off/);
    }
  });

  it("boots from a qcow2 overlay in the state dir when a disk is given, never from the base image", () => {
    const args = buildQemuArgs("web-1", spec({ disk: "/images/base.raw" }), paths, "tcg");
    expect(args.slice(args.indexOf("-drive"))).toMatchInlineSnapshot(`
      [
        "-drive",
        "id=disk0,file=/var/lib/blixard/vms/web-1/disk.qcow2,if=none,format=qcow2",
        "-device",
        "virtio-blk-device,drive=disk0",
      ]
    `);
    expect(args.join(" ")).not.toContain("/images/base.raw");
  });

  it("omits -initrd and -drive when the spec has neither", () => {
    const args = buildQemuArgs("web-1", spec(), paths, "tcg");
    expect(args).not.toContain("-initrd");
    expect(args).not.toContain("-drive");
  });

  it("connects the network to the VM's passt socket, never to qemu's slirp that maps the host's loopback", () => {
    const args = buildQemuArgs("web-1", spec({ forwards: [{ host: 8080, guest: 80 }] }), paths, "tcg");
    expect(args[args.indexOf("-netdev") + 1]).toBe(
      "stream,id=net0,server=off,addr.type=unix,addr.path=/var/lib/blixard/vms/web-1/passt.sock",
    );
    expect(args.join(" ")).not.toMatch(/user,|hostfwd/);
  });

  it("always runs qemu under its seccomp sandbox, denying spawn, privilege and resource changes", () => {
    const args = buildQemuArgs("web-1", spec(), paths, "tcg");
    expect(args[args.indexOf("-sandbox") + 1]).toBe(
      "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    );
  });

  it("jailed, opens the kernel, initrd and base disk where they are bound into the state dir", () => {
    const inDir = "/var/lib/blixard/vms/web-1/in";
    const args = buildQemuArgs(
      "web-1",
      spec({ initrd: "/root/images/initrd.img", disk: "/root/images/base.raw" }),
      paths,
      "tcg",
      {
        inputs: { kernel: `${inDir}/kernel`, initrd: `${inDir}/initrd`, disk: `${inDir}/disk` },
        diskFormat: "raw",
      },
    );
    expect(args[args.indexOf("-kernel") + 1]).toBe(`${inDir}/kernel`);
    expect(args[args.indexOf("-initrd") + 1]).toBe(`${inDir}/initrd`);
    expect(args[args.indexOf("-drive") + 1]).toBe(
      `id=disk0,file=/var/lib/blixard/vms/web-1/disk.qcow2,if=none,format=qcow2,backing.file.filename=${inDir}/disk,backing.driver=raw`,
    );
    // The jailed uid may not be able to reach the originals at all.
    expect(args.join(" ")).not.toContain("/root/images");
  });

  it("keeps the user's kernel cmdline in one argv element, so it cannot add qemu options", () => {
    const args = buildQemuArgs("web-1", spec({ cmdline: "quiet -device foo,bar" }), paths, "tcg");
    expect(args[args.indexOf("-append") + 1]).toBe("console=ttyS0 blixard.name=web-1 quiet -device foo,bar");
    expect(args.filter((a) => a === "-device")).toHaveLength(2);
  });

  it("escapes commas in paths inside qemu option strings", () => {
    const odd = vmPaths("/data,evil=1/vms", "web-1");
    const args = buildQemuArgs("web-1", spec({ disk: "/images/base.raw" }), odd, "tcg");
    expect(args).toContain("file,id=ser0,path=/data,,evil=1/vms/web-1/console.log,append=on");
    expect(args).toContain("id=disk0,file=/data,,evil=1/vms/web-1/disk.qcow2,if=none,format=qcow2");
    // -pidfile takes a plain path, not an option string.
    expect(args[args.indexOf("-pidfile") + 1]).toBe("/data,evil=1/vms/web-1/qemu.pid");
  });

  it("tells TCG guests the TSC frequency, and never KVM guests (they have kvmclock)", () => {
    const tcg = buildQemuArgs("web-1", spec({ cmdline: "quiet" }), paths, "tcg", { tscKhz: 2_596_120 });
    expect(tcg[tcg.indexOf("-append") + 1]).toBe(
      "console=ttyS0 tsc_early_khz=2596120 blixard.name=web-1 quiet",
    );
    const kvm = buildQemuArgs("web-1", spec(), paths, "kvm", { tscKhz: 2_596_120 });
    expect(kvm[kvm.indexOf("-append") + 1]).toBe("console=ttyS0 blixard.name=web-1");
  });
});

describe("buildQemuArgs in bridge mode", () => {
  const bridge = bridgeAttachment("10.88.0.5");
  const args = buildQemuArgs("web-1", spec({ cmdline: "quiet" }), paths, "tcg", { bridge });

  it("plugs the NIC into the VM's tap with its derived MAC, with no passt and no helper script", () => {
    expect(args[args.indexOf("-netdev") + 1]).toBe("tap,id=net0,ifname=blxt0a580005,script=no,downscript=no");
    expect(args).toContain("virtio-net-device,netdev=net0,mac=02:b1:0a:58:00:05");
    expect(args.join(" ")).not.toContain("passt");
  });

  it("tells the guest to use DHCP, before the user's arguments, and keeps the sandbox on", () => {
    expect(args[args.indexOf("-append") + 1]).toBe("console=ttyS0 blixard.name=web-1 blixard.net=dhcp quiet");
    expect(args[args.indexOf("-sandbox") + 1]).toMatch(/^on,/);
  });

  it("leaves user mode as it was: passt's socket, no MAC, no DHCP parameter", () => {
    const user = buildQemuArgs("web-1", spec(), paths, "tcg");
    expect(user[user.indexOf("-netdev") + 1]).toMatch(/^stream,/);
    expect(user).toContain("virtio-net-device,netdev=net0");
    expect(user[user.indexOf("-append") + 1]).not.toContain("blixard.net");
  });
});

describe("kernelCmdline", () => {
  it("puts the console and the VM name before the user's arguments", () => {
    expect(kernelCmdline("a", spec({ cmdline: "  blixard.ignore_ctrlaltdel=1 " }))).toBe(
      "console=ttyS0 blixard.name=a blixard.ignore_ctrlaltdel=1",
    );
    expect(kernelCmdline("a", spec())).toBe("console=ttyS0 blixard.name=a");
  });
});

describe("qemuOptValue", () => {
  it("doubles commas", () => {
    expect(qemuOptValue("a,b,,c")).toBe("a,,b,,,,c");
  });
});
