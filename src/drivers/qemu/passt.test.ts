import { describe, expect, it } from "vitest";
import { parseVmSpec } from "../../core/vm-spec.js";
import { passtArgs, passtNetdev } from "./passt.js";

const spec = (forwards: { host: number; guest: number; protocol?: "tcp" | "udp" }[]) =>
  parseVmSpec({ name: "web-1", kernel: "/images/vmlinuz", forwards });

describe("passt arguments", () => {
  it("never maps the gateway to the host, so a guest cannot reach the host's loopback through it", () => {
    const args = passtArgs(spec([]), "/vms/web-1/passt.sock");
    expect(args).toContain("--no-map-gw");
    expect(args).toEqual(expect.arrayContaining(["--one-off", "--foreground"]));
    expect(args.slice(args.indexOf("--socket"), args.indexOf("--socket") + 2)).toEqual([
      "--socket",
      "/vms/web-1/passt.sock",
    ]);
    // No forward means no open host port at all.
    expect(args).not.toContain("-t");
    expect(args).not.toContain("-u");
  });

  it("gives the guest slirp's addresses, so existing images keep their static configuration", () => {
    const args = passtArgs(spec([]), "/s");
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    expect([value("--address"), value("--netmask"), value("--gateway")]).toEqual([
      "10.0.2.15",
      "24",
      "10.0.2.2",
    ]);
  });

  it("binds every forward to the host's loopback only, tcp and udp", () => {
    const args = passtArgs(
      spec([
        { host: 8080, guest: 80 },
        { host: 5353, guest: 53, protocol: "udp" },
      ]),
      "/s",
    );
    expect(args.slice(-4)).toEqual(["-t", "127.0.0.1/8080:80", "-u", "127.0.0.1/5353:53"]);
  });

  it("escapes commas in the socket path given to qemu's stream netdev", () => {
    expect(passtNetdev("/data,evil=1/passt.sock")).toBe(
      "stream,id=net0,server=off,addr.type=unix,addr.path=/data,,evil=1/passt.sock",
    );
  });
});
