/**
 * Integration test (e2e project): two "hosts", each a network namespace with a veth into a shared
 * underlay namespace, get the node's bridge and VXLAN device from src/net and reach each other's
 * bridge address over the overlay; removing a peer cuts it off. Also: taps owned by a uid, recreated
 * for another owner, and found and removed by prefix as leftovers. Every namespace is the test's own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetnsBed } from "../testing/netns-bed.js";
import { ensureBridge, ipv4Addresses, removeBridge } from "./bridge.js";
import { HostTools } from "./host-tools.js";
import { showLink } from "./links.js";
import { ensureTap, listTaps, removeTap } from "./tap.js";
import { ensureVxlan, removeVxlan, setVxlanPeers, vxlanPeers } from "./vxlan.js";

const bed = new NetnsBed("ovl");
let underlay: string;
let hosts: { ns: string; tools: HostTools; underlay: string; bridge: string }[];

/** One echo request answered within 2 s; tried 3 times where an answer is expected (a lost first ARP). */
function pings(ns: string, address: string, attempts = 3): boolean {
  for (let i = 0; i < attempts; i++) {
    if (bed.ok(ns, ["busybox", "ping", "-c", "1", "-W", "2", address])) return true;
  }
  return false;
}

async function setUpHost(ns: string, ul: string, bridgeAddress: string, peers: string[]) {
  const tools = new HostTools(ns);
  await ensureBridge(tools, { name: "blxbr0", address: bridgeAddress, prefixLength: 16, mtu: 1450 });
  await ensureVxlan(tools, { name: "blxvx0", vni: 4242, local: ul, port: 4789, bridge: "blxbr0", mtu: 1450 });
  await setVxlanPeers(tools, "blxvx0", peers);
  return tools;
}

beforeAll(async () => {
  underlay = bed.add("ul");
  bed.run(underlay, ["ip", "link", "add", "ulbr", "type", "bridge"]);
  bed.run(underlay, ["ip", "link", "set", "ulbr", "up"]);
  const specs = [
    { role: "a", underlay: "172.31.250.1", bridge: "10.77.0.1" },
    { role: "b", underlay: "172.31.250.2", bridge: "10.77.0.2" },
  ];
  hosts = [];
  for (const s of specs) {
    const ns = bed.add(s.role);
    bed.veth(ns, "eth0", underlay, `ul${s.role}`);
    bed.run(underlay, ["ip", "link", "set", `ul${s.role}`, "master", "ulbr"]);
    bed.run(ns, ["ip", "addr", "add", `${s.underlay}/24`, "dev", "eth0"]);
    hosts.push({ ns, tools: new HostTools(ns), underlay: s.underlay, bridge: s.bridge });
  }
});

afterAll(async () => {
  await bed.cleanup();
});

describe("bridge and VXLAN overlay between two hosts", () => {
  it("joins both bridges into one segment: each host reaches the other's bridge address", async () => {
    const [a, b] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
    await setUpHost(a.ns, a.underlay, a.bridge, [b.underlay]);
    await setUpHost(b.ns, b.underlay, b.bridge, [a.underlay]);
    expect(pings(a.ns, b.bridge)).toBe(true);
    expect(pings(b.ns, a.bridge)).toBe(true);
    const vx = await showLink(a.tools, "blxvx0");
    expect(vx?.master).toBe("blxbr0");
    expect(vx?.mtu).toBe(1450);
    expect(vx?.linkinfo?.info_data?.learning).toBe(false);
  });

  it("converges when called again (a restarted node): no change, the same peers, one address", async () => {
    const [a, b] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
    await setUpHost(a.ns, a.underlay, a.bridge, [b.underlay]);
    expect(await setVxlanPeers(a.tools, "blxvx0", [b.underlay])).toEqual({ added: [], removed: [] });
    expect(await vxlanPeers(a.tools, "blxvx0")).toEqual([b.underlay]);
    expect(await ipv4Addresses(a.tools, "blxbr0")).toEqual([`${a.bridge}/16`]);
    expect(pings(a.ns, b.bridge)).toBe(true);
  });

  it("replaces a stale bridge address and a VXLAN device made for another underlay address", async () => {
    const [a, b] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
    await ensureBridge(a.tools, { name: "blxbr0", address: "10.77.9.9", prefixLength: 16, mtu: 1450 });
    await removeVxlan(a.tools, "blxvx0");
    await ensureVxlan(a.tools, {
      name: "blxvx0",
      vni: 4242,
      local: "172.31.250.99",
      port: 4789,
      bridge: "blxbr0",
      mtu: 1450,
    });
    await setUpHost(a.ns, a.underlay, a.bridge, [b.underlay]);
    expect(await ipv4Addresses(a.tools, "blxbr0")).toEqual([`${a.bridge}/16`]);
    expect((await showLink(a.tools, "blxvx0"))?.linkinfo?.info_data?.local).toBe(a.underlay);
    expect(pings(a.ns, b.bridge)).toBe(true);
  });

  it("stops flooding to a peer that left: the overlay to it is cut", async () => {
    const [a, b] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
    expect(await setVxlanPeers(a.tools, "blxvx0", [])).toEqual({ added: [], removed: [b.underlay] });
    // Neighbour entries learnt earlier would still let unicast through; flush them to test the flood path.
    bed.run(a.ns, ["ip", "neigh", "flush", "dev", "blxbr0"]);
    bed.run(a.ns, ["bridge", "fdb", "flush", "dev", "blxvx0", "dynamic"]);
    expect(pings(a.ns, b.bridge, 1)).toBe(false);
    await setVxlanPeers(a.tools, "blxvx0", [b.underlay]);
    expect(pings(a.ns, b.bridge)).toBe(true);
  });
});

describe("taps", () => {
  it("makes a persistent tap owned by a VM's uid, on the bridge, with the overlay MTU", async () => {
    const [a] = hosts as [(typeof hosts)[0]];
    await ensureTap(a.tools, { tap: "blxt0a4d0005", bridge: "blxbr0", mtu: 1450, uid: 61005, gid: 61005 });
    const tap = await showLink(a.tools, "blxt0a4d0005");
    expect(tap?.master).toBe("blxbr0");
    expect(tap?.mtu).toBe(1450);
    expect(tap?.linkinfo?.info_data).toMatchObject({ type: "tap", persist: true, user: 61005, group: 61005 });
  });

  it("recreates a tap left with another owner, so the old uid can no longer attach to it", async () => {
    const [a] = hosts as [(typeof hosts)[0]];
    await ensureTap(a.tools, { tap: "blxt0a4d0005", bridge: "blxbr0", mtu: 1450, uid: 61006, gid: 61006 });
    const tap = await showLink(a.tools, "blxt0a4d0005");
    expect(tap?.linkinfo?.info_data).toMatchObject({ user: 61006, group: 61006 });
    expect(tap?.master).toBe("blxbr0");
  });

  it("finds leftover taps by prefix and removes them, leaving other devices alone", async () => {
    const [a] = hosts as [(typeof hosts)[0]];
    await ensureTap(a.tools, { tap: "blxt0a4d0006", bridge: "blxbr0", mtu: 1450 });
    bed.run(a.ns, ["ip", "tuntap", "add", "dev", "othertap0", "mode", "tap"]);
    expect((await listTaps(a.tools, "blxt")).sort()).toEqual(["blxt0a4d0005", "blxt0a4d0006"]);
    for (const tap of await listTaps(a.tools, "blxt")) await removeTap(a.tools, tap);
    expect(await listTaps(a.tools, "blxt")).toEqual([]);
    expect(await showLink(a.tools, "othertap0")).toBeDefined();
    await removeTap(a.tools, "blxt0a4d0006"); // gone already: still succeeds
  });

  it("removes the VXLAN device and the bridge, and succeeds when they are gone already", async () => {
    const [, b] = hosts as [(typeof hosts)[0], (typeof hosts)[0]];
    for (let i = 0; i < 2; i++) {
      await removeVxlan(b.tools, "blxvx0");
      await removeBridge(b.tools, "blxbr0");
    }
    expect(await showLink(b.tools, "blxbr0")).toBeUndefined();
    expect(await showLink(b.tools, "blxvx0")).toBeUndefined();
  });
});
