/**
 * The multi-host harness: three test hosts as network namespaces on one underlay, a managed-etcd
 * cluster formed across them (each node's API and etcd member bound on its host's underlay address,
 * so TLS and tokens, as between real machines), one host cut off and seen NotReady by the others, then
 * restored; a jailed VM run by a node on a host; and after destroy() no namespace or veth of this run
 * remains.
 */

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostLinks, NetnsHosts, netnsList } from "../../src/testing/netns-hosts.js";
import { idOf, image, TestNode, until } from "./harness.js";

const TTL = 2;

interface NodeJson {
  id: string;
  state: string;
}

describe("three nodes on three network-namespace hosts", () => {
  let hosts: NetnsHosts;
  const nodes: TestNode[] = [];
  const list = (via: TestNode) => JSON.parse(via.ok("node", "list", "-o", "json")) as NodeJson[];
  const stateOf = (via: TestNode, node: TestNode) => list(via).find((n) => n.id === idOf(node))?.state;

  beforeAll(async () => {
    hosts = NetnsHosts.create(3);
    const [h0, h1, h2] = hosts.hosts;
    const a = await TestNode.start(["--cluster-init", "--lease-ttl", String(TTL)], h0!.nodeOptions());
    nodes.push(a);
    const token = a.joinToken();
    for (const h of [h1!, h2!]) {
      // Each joins through the first node's underlay address: the only way to reach it.
      nodes.push(
        await TestNode.start(
          ["--join", `${h0!.address}:${a.port}`, "--token", token, "--lease-ttl", String(TTL)],
          h.nodeOptions(),
        ),
      );
    }
  });

  afterAll(async () => {
    for (const node of nodes) await node.destroy();
    hosts?.destroy();
  });

  it("gives each host its own address on the underlay, reachable from the others, and lets a host be cut", () => {
    const [h0, h1, h2] = hosts.hosts;
    expect(new Set(hosts.hosts.map((h) => h.address)).size).toBe(3);
    expect(h0!.exec(["ip", "-4", "-o", "addr", "show", "dev", "eth0"])).toContain(`${h0!.address}/24`);
    // busybox's ping: busybox-static is always installed, iputils' ping not.
    h0!.exec(["busybox", "ping", "-c", "1", "-W", "2", h1!.address]);
    h2!.cut();
    try {
      expect(() => h0!.exec(["busybox", "ping", "-c", "1", "-W", "1", h2!.address])).toThrow();
    } finally {
      h2!.restore();
    }
    h0!.exec(["busybox", "ping", "-c", "1", "-W", "2", h2!.address]);
  });

  it("forms a cluster across the hosts: three Ready nodes, seen from each", async () => {
    for (const via of nodes) {
      await until("three Ready nodes", () => {
        const all = list(via);
        return all.length === 3 && all.every((n) => n.state === "Ready") ? true : undefined;
      });
      expect(
        list(via)
          .map((n) => n.id)
          .sort(),
      ).toEqual(nodes.map(idOf).sort());
      // A non-loopback bind serves TLS only.
      expect(via.url).toBe(`https://${hosts.hosts[nodes.indexOf(via)]!.address}:${via.port}`);
    }
  });

  it("sees a cut-off host go NotReady, and Ready again once restored", async () => {
    const [a, , c] = nodes;
    const h2 = hosts.hosts[2]!;
    h2.cut();
    try {
      await until("the cut host's node to show NotReady", () =>
        stateOf(a!, c!) === "NotReady" ? true : undefined,
      );
      // The other node stays (or, when the cut host held etcd's leadership and the lease renewals
      // waited out an election, soon is again) Ready: the cluster carries on with two of three.
      await until("the other node Ready while the host is cut", () =>
        stateOf(a!, nodes[1]!) === "Ready" ? true : undefined,
      );
    } finally {
      h2.restore();
    }
    await until("the restored host's node to be Ready again", () =>
      stateOf(a!, c!) === "Ready" ? true : undefined,
    );
  });

  it("runs a jailed VM on a host (the cgroup mounts survive entering the host's namespace)", async () => {
    // Plain `ip netns exec` mounts a fresh /sys that hides /sys/fs/cgroup: the node then refused to
    // start ("cannot jail VMs on this host"). netns-run.sh keeps them; this VM is jailed (the default).
    const [a, b] = nodes;
    const { kernel, initrd } = image();
    a!.ok(
      "vm",
      "create",
      "ns-web",
      "--kernel",
      kernel,
      "--initrd",
      initrd,
      "--memory",
      "128",
      "--node",
      idOf(b!),
      "--start",
      "--no-wait",
    );
    await until("ns-web to run on b", () => (b!.vm("ns-web").status.phase === "Running" ? true : undefined));
    await until(
      "ns-web's READY line",
      () =>
        /BLIXARD-READY name=ns-web/.test(a!.cli("vm", "logs", "ns-web", "--tail", "all").stdout) || undefined,
    );
    const [pid] = b!.qemuPids();
    expect(pid).toBeDefined();
    // qemu runs in b's host namespace (its network namespace is the host's, or the jail's own under it),
    // and in a cgroup of the jail, not the test runner's.
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toMatch(/blixard/);
    a!.ok("vm", "delete", "ns-web");
  });

  it("leaves no namespace or veth of its own behind", async () => {
    for (const node of nodes.splice(0)) await node.destroy();
    const made = [...hosts.namespaces];
    expect(netnsList()).toEqual(expect.arrayContaining(made));
    hosts.destroy();
    const left = netnsList();
    expect(made.filter((ns) => left.includes(ns))).toEqual([]);
    // The veths lived only in those namespaces; none may have surfaced in ours.
    const links = hostLinks();
    expect(hosts.links.filter((l) => links.includes(l))).toEqual([]);
    expect(links.filter((l) => l.startsWith(hosts.id))).toEqual([]);
  });
});
