/**
 * Integration test (e2e project): a node's guest-facing network, built from src/net in network
 * namespaces. Host A and host B each have the bridge and the VXLAN device, joined by a veth underlay;
 * "guests" are namespaces plugged into a bridge by veth. Proves that A's dnsmasq gives a known guest
 * its lease (address, gateway, DNS, MTU) and resolves its names, ignores unknown MACs, and that with
 * the node's nftables rules a guest can no longer reach a TCP service on its host's loopback, on its
 * host's underlay or bridge address, or on another node's underlay address (the attack: a guest
 * calling the node API or etcd), nor get a lease across the VXLAN, while it still reaches another
 * guest. Each attack is first shown to work without the rules, so the test cannot pass vacuously.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAP_PREFIX, tapForAddress } from "../core/vm-network.js";
import { systemClock } from "../platform/system-clock.js";
import { silentLogger } from "../ports/logger.js";
import { NetnsBed } from "../testing/netns-bed.js";
import { ensureBridge } from "./bridge.js";
import { DnsmasqProcess, HOSTS_ROOT } from "./dnsmasq-process.js";
import { enableIpv4Forwarding } from "./forwarding.js";
import { HostTools } from "./host-tools.js";
import { buildRuleset } from "./nft-ruleset.js";
import { applyRuleset, removeTables } from "./nftables.js";
import { ensureVxlan, setVxlanPeers } from "./vxlan.js";

const bed = new NetnsBed("gst");
const DOMAIN = "test.internal";
const A = { underlay: "172.31.251.1", bridge: "10.77.0.1" };
const B = { underlay: "172.31.251.2", bridge: "10.77.0.2" };
const G1 = { mac: "02:b1:0a:4d:00:0a", address: "10.77.0.10" };
const G2 = { mac: "02:b1:0a:4d:00:0b", address: "10.77.0.11" };
/** Plugged into B's bridge; A holds its lease, so only the overlay could carry its DHCP to A. */
const GB = { mac: "02:b1:0a:4d:00:0c", address: "10.77.0.12" };
/** A machine outside the cluster, on another link of A, with no route back to the VM subnet. */
const OUTSIDE = { a: "172.31.252.1", c: "172.31.252.2" };
const SERVICE_PORT = 7001;
/** Data-file directories of two earlier, made-up nodes (ids unique to this run). */
const GONE_ID = `${process.pid.toString(16).padStart(8, "0")}00000001`;
const KEPT_ID = `${process.pid.toString(16).padStart(8, "0")}00000002`;
/** An address of the VM subnet that guest g2 takes without it being its own. */
const SPOOFED = "10.77.0.50";
const GUEST_PORT = 7002;

let nsA: string;
let nsB: string;
let nsC: string;
const guests: Record<string, string> = {};
let tmp: string;
let script: string;
let dnsmasq: DnsmasqProcess;
let toolsA: HostTools;
let toolsB: HostTools;

/** Runs udhcpc once in the guest; returns the lease it got (or undefined). */
function dhcp(ns: string): Record<string, string> | undefined {
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
      "-O",
      "mtu",
      "-s",
      script,
    ]);
    const line = out.split("\n").find((l) => l.startsWith("lease "));
    return line
      ? Object.fromEntries(
          line
            .slice(6)
            .split(" ")
            .map((kv) => kv.split("=") as [string, string]),
        )
      : undefined;
  } catch {
    return undefined;
  }
}

/** Plugs a guest namespace into the host's bridge through a veth named like a VM's tap. */
function plugGuest(role: string, hostNs: string, mac: string, port: string): string {
  // The guest's loopback stays down, without local routes for 127.0.0.0/8: so that it can route them
  // to its gateway (the attack below).
  const ns = bed.add(role, { loopback: false });
  bed.veth(ns, "eth0", hostNs, port);
  bed.run(ns, ["ip", "link", "set", "eth0", "address", mac]);
  bed.run(hostNs, ["ip", "link", "set", port, "master", "blxbr0"]);
  bed.run(ns, ["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.eth0.route_localnet=1"]);
  return ns;
}

function configure(ns: string, lease: Record<string, string>): void {
  bed.run(ns, ["ip", "addr", "add", `${lease["ip"]}/16`, "dev", "eth0"]);
  bed.run(ns, ["ip", "route", "add", "default", "via", lease["router"] ?? ""]);
  // A guest that sends host-loopback traffic to its gateway, hoping the host delivers it.
  bed.run(ns, ["ip", "route", "add", "127.0.0.0/8", "via", lease["router"] ?? ""]);
}

function ruleset(bridge: string, vms: { mac: string; address: string }[]) {
  return buildRuleset({
    bridge: "blxbr0",
    vxlan: "blxvx0",
    bridgeAddress: bridge,
    vmCidr: "10.77.0.0/16",
    nodeAddresses: [A.underlay, B.underlay],
    tapPrefix: TAP_PREFIX,
    guests: vms.map((vm) => ({ ...vm, tap: tapForAddress(vm.address) })),
  });
}

beforeAll(async () => {
  // 0700, as a node's data dir: dnsmasq, once it dropped to nobody, cannot enter it.
  tmp = mkdtempSync(join(tmpdir(), "blixard-net-"));
  script = join(tmp, "udhcpc.sh");
  writeFileSync(
    script,
    '#!/bin/sh\n[ "$1" = bound ] && echo "lease ip=$ip router=$router dns=$dns mtu=$mtu subnet=$subnet domain=$domain"\nexit 0\n',
    { mode: 0o755 },
  );
  nsA = bed.add("a");
  nsB = bed.add("b");
  bed.veth(nsA, "eth0", nsB, "eth0");
  bed.run(nsA, ["ip", "addr", "add", `${A.underlay}/24`, "dev", "eth0"]);
  bed.run(nsB, ["ip", "addr", "add", `${B.underlay}/24`, "dev", "eth0"]);
  nsC = bed.add("c");
  bed.veth(nsA, "eth1", nsC, "eth0");
  bed.run(nsA, ["ip", "addr", "add", `${OUTSIDE.a}/24`, "dev", "eth1"]);
  bed.run(nsC, ["ip", "addr", "add", `${OUTSIDE.c}/24`, "dev", "eth0"]);
  toolsA = new HostTools(nsA);
  toolsB = new HostTools(nsB);
  for (const [tools, host, peer] of [
    [toolsA, A, B],
    [toolsB, B, A],
  ] as const) {
    await ensureBridge(tools, { name: "blxbr0", address: host.bridge, prefixLength: 16, mtu: 1450 });
    await ensureVxlan(tools, {
      name: "blxvx0",
      vni: 4242,
      local: host.underlay,
      port: 4789,
      bridge: "blxbr0",
      mtu: 1450,
    });
    await setVxlanPeers(tools, "blxvx0", [peer.underlay]);
  }
  // A routes for its guests (as a node does for masquerade), and would deliver 127/8 arriving from the
  // bridge (route_localnet, as some hosts set): the rules, not these settings, must stop the guests.
  expect(await enableIpv4Forwarding(toolsA)).toBe(true);
  expect(await enableIpv4Forwarding(toolsA)).toBe(false);
  bed.run(nsA, [
    "sysctl",
    "-qw",
    "net.ipv4.conf.blxbr0.route_localnet=1",
    "net.ipv4.conf.all.route_localnet=1",
  ]);
  guests["g1"] = plugGuest("g1", nsA, G1.mac, tapForAddress(G1.address));
  guests["g2"] = plugGuest("g2", nsA, G2.mac, tapForAddress(G2.address));
  guests["g3"] = plugGuest("g3", nsA, "02:b1:0a:4d:00:63", tapForAddress("10.77.0.99"));
  guests["gb"] = plugGuest("gb", nsB, GB.mac, tapForAddress(GB.address));
  await bed.tcpServer(nsA, SERVICE_PORT);
  await bed.tcpServer(nsB, SERVICE_PORT);
  await bed.tcpServer(nsC, SERVICE_PORT);
  dnsmasq = new DnsmasqProcess({
    settings: {
      dir: join(tmp, "dnsmasq"),
      bridge: "blxbr0",
      bridgeAddress: A.bridge,
      vmCidr: "10.77.0.0/16",
      mtu: 1450,
      domain: DOMAIN,
    },
    clock: systemClock,
    logger: silentLogger,
    tools: toolsA,
  });
  // Leftovers of two earlier nodes: one whose data dir is gone, one whose data dir still exists.
  mkdirSync(join(HOSTS_ROOT, GONE_ID), { recursive: true });
  writeFileSync(join(HOSTS_ROOT, GONE_ID, "owner"), join(tmp, "deleted-data-dir", "dnsmasq"));
  mkdirSync(join(HOSTS_ROOT, KEPT_ID), { recursive: true });
  writeFileSync(join(HOSTS_ROOT, KEPT_ID, "owner"), tmp);
  await dnsmasq.start();
  await dnsmasq.writeHosts(
    [G1, G2, GB],
    [
      { address: G1.address, names: [`g1.vm.${DOMAIN}`, `web.group.${DOMAIN}`] },
      { address: G2.address, names: [`g2.vm.${DOMAIN}`] },
    ],
  );
});

afterAll(async () => {
  await dnsmasq?.stop();
  await dnsmasq?.removeFiles();
  for (const id of [GONE_ID, KEPT_ID]) rmSync(join(HOSTS_ROOT, id), { recursive: true, force: true });
  await bed.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe("guest network of a node", () => {
  it("gives a known guest its static lease: address, gateway and DNS on the bridge address, overlay MTU", () => {
    const lease = dhcp(guests["g1"] as string);
    expect(lease).toMatchObject({
      ip: G1.address,
      router: A.bridge,
      dns: A.bridge,
      mtu: "1450",
      domain: DOMAIN,
    });
    configure(guests["g1"] as string, lease as Record<string, string>);
    const lease2 = dhcp(guests["g2"] as string);
    expect(lease2?.["ip"]).toBe(G2.address);
    configure(guests["g2"] as string, lease2 as Record<string, string>);
  });

  it("removes the data files of a node whose data dir is gone, and keeps those of one whose dir exists", () => {
    expect(existsSync(join(HOSTS_ROOT, GONE_ID))).toBe(false);
    expect(existsSync(join(HOSTS_ROOT, KEPT_ID))).toBe(true);
    expect(readFileSync(join(dnsmasq.hostsDir, "owner"), "utf8")).toBe(`${join(tmp, "dnsmasq")}\n`);
  });

  it("answers no unknown MAC", () => {
    expect(dhcp(guests["g3"] as string)).toBeUndefined();
  });

  it("resolves the names of the addn-hosts file, re-read after writeHosts", async () => {
    const g1 = guests["g1"] as string;
    expect(bed.run(g1, ["busybox", "nslookup", `g2.vm.${DOMAIN}`, A.bridge])).toContain(G2.address);
    expect(bed.run(g1, ["busybox", "nslookup", `web.group.${DOMAIN}`, A.bridge])).toContain(G1.address);
    await dnsmasq.writeHosts([G1, G2, GB], [{ address: G2.address, names: [`renamed.vm.${DOMAIN}`] }]);
    await systemClock.sleep(300);
    expect(bed.run(g1, ["busybox", "nslookup", `renamed.vm.${DOMAIN}`, A.bridge])).toContain(G2.address);
    expect(bed.ok(g1, ["busybox", "nslookup", `g2.vm.${DOMAIN}`, A.bridge])).toBe(false);
  });

  it("without the rules, the attacks work: a guest reaches the host's services and a lease crosses the overlay", () => {
    const g1 = guests["g1"] as string;
    expect(bed.tcpReaches(g1, A.underlay, SERVICE_PORT)).toBe(true);
    expect(bed.tcpReaches(g1, "127.0.0.1", SERVICE_PORT)).toBe(true);
    expect(bed.tcpReaches(g1, B.underlay, SERVICE_PORT)).toBe(true);
    expect(dhcp(guests["gb"] as string)?.["ip"]).toBe(GB.address);
    // Not masqueraded, a guest's packets reach the outside machine, whose replies have no way back.
    expect(bed.tcpReaches(g1, OUTSIDE.c, SERVICE_PORT)).toBe(false);
    expect(bed.tcpReaches(g1, B.bridge, SERVICE_PORT)).toBe(true);
  });

  it("without the rules, a guest can send from an address that is not its own", async () => {
    const g2 = guests["g2"] as string;
    await bed.tcpServer(guests["g1"] as string, GUEST_PORT);
    bed.run(g2, ["ip", "addr", "add", `${SPOOFED}/16`, "dev", "eth0"]);
    expect(bed.tcpReaches(g2, G1.address, GUEST_PORT, SPOOFED)).toBe(true);
  });

  it("with the rules, a guest reaches nothing on its host nor another node's underlay, but still another guest", async () => {
    await applyRuleset(toolsA, ruleset(A.bridge, [G1, G2]));
    await applyRuleset(toolsB, ruleset(B.bridge, [GB]));
    await applyRuleset(toolsA, ruleset(A.bridge, [G1, G2])); // applying again converges to the same tables
    const g1 = guests["g1"] as string;
    expect(bed.tcpReaches(g1, A.underlay, SERVICE_PORT)).toBe(false);
    expect(bed.tcpReaches(g1, "127.0.0.1", SERVICE_PORT)).toBe(false);
    expect(bed.tcpReaches(g1, A.bridge, SERVICE_PORT)).toBe(false);
    expect(bed.tcpReaches(g1, OUTSIDE.a, SERVICE_PORT)).toBe(false); // any other address of the host
    expect(bed.tcpReaches(g1, B.underlay, SERVICE_PORT)).toBe(false);
    expect(bed.tcpReaches(g1, B.bridge, SERVICE_PORT)).toBe(false); // another node's host, over the overlay
    await bed.tcpServer(guests["g2"] as string, GUEST_PORT);
    expect(bed.tcpReaches(g1, G2.address, GUEST_PORT)).toBe(true);
    // The attack: a guest sending from an address (or MAC) that is not its own. Dropped at its tap.
    expect(bed.tcpReaches(guests["g2"] as string, G1.address, GUEST_PORT, SPOOFED)).toBe(false);
    expect(bed.tcpReaches(guests["g2"] as string, G1.address, GUEST_PORT)).toBe(true);
    // Masqueraded behind A, the guest reaches a machine outside the cluster.
    expect(bed.tcpReaches(g1, OUTSIDE.c, SERVICE_PORT)).toBe(true);
    // DHCP and DNS to the node's dnsmasq still work.
    expect(dhcp(g1)?.["ip"]).toBe(G1.address);
    expect(bed.run(g1, ["busybox", "nslookup", `renamed.vm.${DOMAIN}`, A.bridge])).toContain(G2.address);
  });

  it("with the rules, no lease crosses the overlay: only the node running a VM answers its DHCP", () => {
    expect(dhcp(guests["gb"] as string)).toBeUndefined();
  });

  it("restarts dnsmasq when it dies", async () => {
    const first = dnsmasq.pid as number;
    process.kill(first, "SIGKILL");
    for (let i = 0; i < 50 && (dnsmasq.pid === undefined || dnsmasq.pid === first); i++)
      await systemClock.sleep(100);
    expect(dnsmasq.pid).not.toBe(first);
    expect(dnsmasq.restartCount).toBe(1);
    await systemClock.sleep(300);
    expect(
      bed.run(guests["g1"] as string, ["busybox", "nslookup", `renamed.vm.${DOMAIN}`, A.bridge]),
    ).toContain(G2.address);
  });

  it("removes both tables, and succeeds when they are gone already", async () => {
    await removeTables(toolsA);
    await removeTables(toolsA);
    expect(bed.run(nsA, ["nft", "list", "tables"])).not.toContain("blixard");
    expect(bed.tcpReaches(guests["g1"] as string, A.underlay, SERVICE_PORT)).toBe(true);
  });
});
