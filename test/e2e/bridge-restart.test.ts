/**
 * A node with bridge networking restarted under its running bridge-mode VM (issue 14: the devices
 * survive a node restart and the running VMs' taps are re-adopted): the VM keeps its process, its tap
 * and its address; the restarted node's new dnsmasq answers its name and its lease (the killed node's
 * dnsmasq is replaced, not doubled); and the VM still stops cleanly afterwards, its tap going with it.
 * One test host (a network namespace), a single node on SQLite: no lease, so no watchdog races the
 * restart.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetnsHosts } from "../../src/testing/netns-hosts.js";
import { image, isAlive, TestNode, until } from "./harness.js";

interface VmJson {
  status: { phase: string; pid: number | null; address: string };
}

describe("a bridge-networking node restarted under a running VM", () => {
  let hosts: NetnsHosts;
  let node: TestNode;

  const get = (url: string): Promise<string | undefined> =>
    new Promise((resolve) => {
      const argv = ["netns", "exec", hosts.hosts[0]!.netns, "curl", "-s", "-m", "20", url];
      execFile("ip", argv, { encoding: "utf8", timeout: 30_000 }, (err, stdout) =>
        resolve(err ? undefined : stdout),
      );
    });
  const vm = () => JSON.parse(node.ok("vm", "get", "web", "-o", "json")) as VmJson;
  const dnsmasqPids = () =>
    hosts.hosts[0]!.exec(["ip", "netns", "pids", hosts.hosts[0]!.netns])
      .split(/\s+/)
      .filter(Boolean)
      .filter((pid) => {
        try {
          return hosts.hosts[0]!.exec(["cat", `/proc/${pid}/comm`]).trim() === "dnsmasq";
        } catch {
          return false;
        }
      });

  beforeAll(async () => {
    hosts = NetnsHosts.create(1);
    node = await TestNode.start(["--bridge-network", "on"], hosts.hosts[0]!.nodeOptions());
    const { kernel, initrd } = image();
    node.ok(
      ...["vm", "create", "web", "--kernel", kernel, "--initrd", initrd, "--memory", "128"],
      ...["--network", "bridge", "--cmdline", "blixard.probe=1", "--start", "--no-wait"],
    );
  });

  afterAll(async () => {
    await node?.destroy();
    hosts?.destroy();
  });

  it("keeps the VM, its tap and its address, and serves its name and lease from a new dnsmasq", async () => {
    const before = await until("web serving at its address", async () => {
      const v = vm();
      if (v.status.phase !== "Running" || !v.status.address) return undefined;
      return (await get(`http://${v.status.address}/`))?.includes("<h1>web</h1>") ? v : undefined;
    });
    const tap = /blxt[0-9a-f]{8}/.exec(hosts.hosts[0]!.exec(["ip", "-br", "link"]))?.[0];
    expect(tap).toBeDefined();
    expect(dnsmasqPids()).toHaveLength(1);

    // The node dies without a word (its dnsmasq, a child, is orphaned), and starts again.
    await node.kill("SIGKILL");
    await node.launch();
    await until("the VM re-adopted", () => (vm().status.phase === "Running" ? true : undefined));
    const after = vm();
    expect(after.status.pid).toBe(before.status.pid);
    expect(isAlive(before.status.pid!)).toBe(true);
    expect(after.status.address).toBe(before.status.address);
    expect(hosts.hosts[0]!.exec(["ip", "-br", "link"])).toContain(tap!);
    await until("one dnsmasq, the new node's", () => (dnsmasqPids().length === 1 ? true : undefined));
    // The new dnsmasq serves the VM's name to the guest, and leases it its address again.
    const resolved = await get(`http://${after.status.address}/cgi-bin/resolve?name=web.vm.blixard.internal`);
    expect(resolved).toContain(after.status.address);
    node.ok("vm", "restart", "web");
    await until("web serving again after a restart (a new DHCP lease)", async () => {
      const v = vm();
      if (v.status.phase !== "Running" || v.status.pid === before.status.pid) return undefined;
      return (await get(`http://${v.status.address}/`))?.includes("<h1>web</h1>") || undefined;
    });

    node.ok("vm", "stop", "web");
    await until("the tap gone with the stopped VM", () =>
      hosts.hosts[0]!.exec(["ip", "-br", "link"]).includes(tap!) ? undefined : true,
    );
  });
});
