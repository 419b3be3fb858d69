/**
 * Integration test (e2e project): LinuxHostNetwork, the HostNetwork port made from this directory's
 * parts, on two "nodes" that are network namespaces joined by a veth underlay. A guest (a namespace
 * plugged in through a port named like its VM's tap) gets its lease and names from what the agent
 * hands over, reaches the other node's bridge over the overlay, and is kept to its own address; a
 * node that goes down and up again converges; going down for good removes every device and table.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { macForAddress, tapForAddress } from "../core/vm-network.js";
import { systemClock } from "../platform/system-clock.js";
import type { OverlayConfig } from "../ports/host-network.js";
import { silentLogger } from "../ports/logger.js";
import { NetnsBed } from "../testing/netns-bed.js";
import { ipv4Forwarding } from "./forwarding.js";
import { LinuxHostNetwork } from "./host-network.js";
import { HostTools } from "./host-tools.js";
import { showLink } from "./links.js";
import { vxlanPeers } from "./vxlan.js";

const bed = new NetnsBed("hn");
const DOMAIN = "test.internal";
const VM = { address: "10.78.0.10", mac: macForAddress("10.78.0.10") };
let tmp: string;
let nodes: { ns: string; tools: HostTools; net: LinuxHostNetwork; config: OverlayConfig }[];
let guest: string;

function config(vtep: string, bridgeAddress: string): OverlayConfig {
  return { bridgeAddress, prefixLength: 16, vmCidr: "10.78.0.0/16", domain: DOMAIN, vtep, vni: 4242 };
}

function lease(ns: string): string | undefined {
  const script = join(tmp, "udhcpc.sh");
  try {
    const out = bed.run(ns, [
      "busybox",
      "udhcpc",
      "-i",
      "eth0",
      "-n",
      "-q",
      "-f",
      "-t",
      "3",
      "-T",
      "1",
      "-s",
      script,
    ]);
    return /^lease (\S+)/m.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "blixard-hn-"));
  writeFileSync(join(tmp, "udhcpc.sh"), '#!/bin/sh\n[ "$1" = bound ] && echo "lease $ip"\nexit 0\n', {
    mode: 0o755,
  });
  const a = bed.add("a");
  const b = bed.add("b");
  bed.veth(a, "eth0", b, "eth0");
  bed.run(a, ["ip", "addr", "add", "172.31.253.1/24", "dev", "eth0"]);
  bed.run(b, ["ip", "addr", "add", "172.31.253.2/24", "dev", "eth0"]);
  nodes = [
    { ns: a, config: config("172.31.253.1", "10.78.0.1") },
    { ns: b, config: config("172.31.253.2", "10.78.0.2") },
  ].map((n) => {
    const tools = new HostTools(n.ns);
    const net = new LinuxHostNetwork({
      dir: join(tmp, n.ns),
      clock: systemClock,
      logger: silentLogger,
      tools,
    });
    return { ...n, tools, net };
  });
});

afterAll(async () => {
  for (const node of nodes ?? []) await node.net.down({ removeDevices: true }).catch(() => {});
  await bed.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe("LinuxHostNetwork", () => {
  it("brings a node's overlay up: a guest gets its lease and names, and reaches the other node's bridge", async () => {
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    await a.net.up(a.config);
    await b.net.up(b.config);
    await a.net.setPeers([b.config.vtep]);
    await b.net.setPeers([a.config.vtep]);
    expect(await vxlanPeers(a.tools, "blxvx0")).toEqual([b.config.vtep]);
    expect(await ipv4Forwarding(a.tools)).toBe(true);

    guest = bed.add("g", { loopback: false });
    bed.veth(guest, "eth0", a.ns, tapForAddress(VM.address));
    bed.run(guest, ["ip", "link", "set", "eth0", "address", VM.mac]);
    bed.run(a.ns, ["ip", "link", "set", tapForAddress(VM.address), "master", "blxbr0"]);
    expect(lease(guest)).toBeUndefined(); // no lease handed over yet, and its port is not let through

    await a.net.setLeases([{ mac: VM.mac, address: VM.address, hostname: "web-1" }]);
    await a.net.setNames([{ name: `web-1.vm.${DOMAIN}`, addresses: [VM.address] }]);
    expect(lease(guest)).toBe(VM.address);
    bed.run(guest, ["ip", "addr", "add", `${VM.address}/16`, "dev", "eth0"]);
    expect(bed.run(guest, ["busybox", "nslookup", `web-1.vm.${DOMAIN}`, a.config.bridgeAddress])).toContain(
      VM.address,
    );
    expect(bed.ok(guest, ["busybox", "ping", "-c", "1", "-W", "2", b.config.bridgeAddress])).toBe(true);
    // Kept to its own address: from another one, nothing gets through.
    bed.run(guest, ["ip", "addr", "add", "10.78.0.77/16", "dev", "eth0"]);
    expect(
      bed.ok(guest, ["busybox", "ping", "-c", "1", "-W", "2", "-I", "10.78.0.77", b.config.bridgeAddress]),
    ).toBe(false);
  });

  it("converges when the node goes down (keeping its devices) and up again", async () => {
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    await a.net.down({ removeDevices: false });
    expect(await showLink(a.tools, "blxbr0")).toBeDefined();
    await a.net.up(a.config);
    await a.net.setPeers([b.config.vtep]);
    await a.net.setLeases([{ mac: VM.mac, address: VM.address, hostname: "web-1" }]);
    expect(lease(guest)).toBe(VM.address);
    expect(bed.ok(guest, ["busybox", "ping", "-c", "1", "-W", "2", b.config.bridgeAddress])).toBe(true);
  });

  it("going down for good removes the bridge, the VXLAN device, the taps and the tables", async () => {
    const [a] = nodes as [(typeof nodes)[0]];
    bed.run(a.ns, ["ip", "tuntap", "add", "dev", "blxt0a4e0063", "mode", "tap"]);
    await a.net.down({ removeDevices: true });
    for (const device of ["blxbr0", "blxvx0", "blxt0a4e0063"])
      expect(await showLink(a.tools, device)).toBeUndefined();
    expect(bed.run(a.ns, ["nft", "list", "tables"])).not.toContain("blixard");
  });
});
