/**
 * Bridge networking across hosts (issue 14), on three test hosts that are network namespaces joined
 * by an underlay, one node each (`--bridge-network on`, managed etcd, TLS): a VM on host A fetches
 * HTTP from a VM on another host by address and by name; guests cannot reach any node's API or etcd
 * (the attack), though the hosts can; a lost host's VM comes back on another host at the same address
 * and name; 50 concurrent creates through three APIs get 50 distinct addresses; and a node stopped
 * with --stop-vms-on-exit leaves no bridge, VXLAN device, tap, table or dnsmasq behind.
 */
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetnsHosts } from "../../src/testing/netns-hosts.js";
import { idOf, image, TestNode, until } from "./harness.js";

// Not shorter: three nodes, their etcd members and several TCG guests share two cores here, and a node
// whose heartbeat lags a TTL fences itself (its watchdog kills its VMs).
const TTL = 5;

interface VmJson {
  name: string;
  status: { phase: string; node: string; address: string };
}

describe("bridge networking across three hosts", () => {
  let hosts: NetnsHosts;
  const nodes: TestNode[] = [];
  const { kernel, initrd } = image();

  /**
   * A GET from inside host `h`'s namespace (curl there): the body of a 2xx answer, or undefined; with
   * `anyStatus`, the body whatever the status (the probe answers a failed fetch with 502 and why).
   */
  const getFrom = (h: number, url: string, timeoutS = 10, anyStatus = false): Promise<string | undefined> =>
    new Promise((resolve) => {
      const flags = anyStatus ? "-s" : "-sf";
      const argv = ["netns", "exec", hosts.hosts[h]!.netns, "curl", flags, "-m", String(timeoutS), url];
      execFile("ip", argv, { encoding: "utf8", timeout: (timeoutS + 5) * 1000 }, (err, stdout) =>
        resolve(err ? undefined : stdout),
      );
    });
  /** What the guest at `address` gets when it fetches `url` itself (the test image's probe). */
  const guestFetch = (h: number, address: string, url: string) =>
    getFrom(h, `http://${address}/cgi-bin/fetch?url=${encodeURIComponent(url)}`, 20, true);

  const vm = (name: string) => JSON.parse(nodes[0]!.ok("vm", "get", name, "-o", "json")) as VmJson;
  /** Waits until the VM runs and its guest serves its page at its cluster address. */
  const serving = async (name: string): Promise<VmJson> =>
    until(`${name} serving at its address`, async () => {
      const v = vm(name);
      if (v.status.phase !== "Running" || !v.status.address) return undefined;
      const page = await getFrom(0, `http://${v.status.address}/`, 3);
      return page?.includes(`<h1>${name}</h1>`) ? v : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}; the VM: ${JSON.stringify(vm(name))}`);
    });
  const hostOf = (v: VmJson) => nodes.findIndex((n) => idOf(n) === v.status.node);

  beforeAll(async () => {
    hosts = NetnsHosts.create(3);
    const flags = (i: number) => [
      ...[
        "--lease-ttl",
        String(TTL),
        "--failover-grace",
        "1",
        "--bridge-network",
        "on",
        "--stop-vms-on-exit",
      ],
      ...["--label", `host=h${i}`],
    ];
    const [h0, h1, h2] = hosts.hosts;
    const a = await TestNode.start(["--cluster-init", ...flags(0)], h0!.nodeOptions());
    nodes.push(a);
    const token = a.joinToken();
    for (const [i, h] of [h1!, h2!].entries()) {
      nodes.push(
        await TestNode.start(
          ["--join", `${h0!.address}:${a.port}`, "--token", token, ...flags(i + 1)],
          h.nodeOptions(),
        ),
      );
    }
    const create = (name: string, placement: string[]) =>
      nodes[0]!.ok(
        ...["vm", "create", name, "--kernel", kernel, "--initrd", initrd, "--memory", "128"],
        ...["--network", "bridge", "--cmdline", "blixard.probe=1", "--start", "--no-wait", ...placement],
      );
    create("client", ["--node", idOf(a)]);
    // Not on host 0, so that host can be lost without losing the client.
    create("server", ["--constraint", "host!=h0"]);
  });

  afterAll(async () => {
    for (const node of nodes) await node.destroy();
    hosts?.destroy();
  });

  it("lets a VM on one host fetch from a VM on another, by address and by name", async () => {
    const client = await serving("client");
    const server = await serving("server");
    expect(hostOf(client)).toBe(0);
    expect(hostOf(server)).not.toBe(0);
    expect(server.status.address).not.toBe(client.status.address);
    const byAddress = await guestFetch(0, client.status.address, `http://${server.status.address}/`);
    expect(byAddress).toContain("<h1>server</h1>");
    const byName = await guestFetch(0, client.status.address, "http://server.vm.blixard.internal/");
    expect(byName).toContain("<h1>server</h1>");
  });

  it("spreads a service's connections over three replicas on three hosts, and drops a killed one", async () => {
    const client = await serving("client");
    nodes[0]!.ok(
      ...[
        "vm",
        "create",
        "web",
        "--replicas",
        "3",
        "--kernel",
        kernel,
        "--initrd",
        initrd,
        "--memory",
        "128",
      ],
      ...["--network", "bridge", "--restart", "never", "--start", "--no-wait"],
    );
    const replicas = await Promise.all(["web-1", "web-2", "web-3"].map(serving));
    expect(new Set(replicas.map(hostOf)).size).toBe(3);
    nodes[0]!.ok("service", "create", "web", "--port", "80", "--target-port", "80", "--group", "web");
    const service = JSON.parse(nodes[0]!.ok("service", "get", "web", "-o", "json")) as {
      address: string;
      members: { vm: string }[];
    };
    expect(service.address).toMatch(/^10\.89\.\d+\.\d+$/);
    /** Which replica answers each of `n` fetches of the service address from the client guest. */
    const answers = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const page = (await guestFetch(0, client.status.address, `http://${service.address}/`)) ?? "";
        seen.push(/<h1>(web-\d)<\/h1>/.exec(page)?.[1] ?? `failed: ${page.slice(0, 200)}`);
      }
      return seen;
    };
    let last: string[] = [];
    await until("every replica to answer through the service", async () => {
      last = await answers(12);
      const seen = new Set(last);
      return ["web-1", "web-2", "web-3"].every((r) => seen.has(r)) || undefined;
    }).catch((err: unknown) => {
      const now = nodes[0]!.ok("service", "get", "web", "-o", "json");
      throw new Error(`${String(err)}; answers: ${last.join(" | ")}; service: ${now}`);
    });
    const victim = replicas[1]!;
    const pid = (
      JSON.parse(nodes[0]!.ok("vm", "get", victim.name, "-o", "json")) as { status: { pid: number } }
    ).status.pid;
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, "SIGKILL");
    await until("the killed replica reported down", () =>
      vm(victim.name).status.phase !== "Running" ? true : undefined,
    );
    const after = await answers(12);
    expect(
      after.every((a) => a === "web-1" || a === "web-3"),
      after.join(", "),
    ).toBe(true);
    nodes[0]!.ok("service", "delete", "web");
    for (const name of ["web-1", "web-2", "web-3"]) nodes[0]!.ok("vm", "delete", name);
  });

  it("keeps guests away from every node's API and etcd, which the hosts themselves reach", async () => {
    const client = await serving("client");
    const [h0, h1] = hosts.hosts;
    const targets = [
      `https://${h0!.address}:${nodes[0]!.port}/healthz`, // its own node's API
      `https://${h1!.address}:${nodes[1]!.port}/healthz`, // another node's API, over the overlay's gateway
      `http://${h1!.address}:${nodes[1]!.port + 1}/health`, // another node's etcd client port
    ];
    for (const url of targets) {
      // The attack: the guest asks. The probe answers with the fetch's failure.
      const answer = await guestFetch(0, client.status.address, url.replace("https://", "http://"));
      expect(answer ?? "").toMatch(/fetch failed/);
      expect(answer ?? "").not.toMatch(/HTTP\/1\.[01] [0-9]/);
    }
    // What the guest was refused is there: host 0 itself connects (TLS handshake or HTTP answer).
    const reached = await new Promise<boolean>((resolve) =>
      execFile(
        "ip",
        ["netns", "exec", h0!.netns, "curl", "-sk", "-o", "/dev/null", "-m", "5", targets[0]!],
        (err) => resolve(!err),
      ),
    );
    expect(reached).toBe(true);
  });

  it("brings a lost host's VM back on another host at the same address and name", async () => {
    const client = await serving("client");
    const before = await serving("server");
    const lost = hostOf(before);
    hosts.hosts[lost]!.cut();
    await nodes[lost]!.kill("SIGKILL");
    const after = await until("the server to move", () => {
      const v = vm("server");
      return v.status.node !== before.status.node && v.status.phase === "Running" ? v : undefined;
    });
    expect(after.status.address).toBe(before.status.address);
    await until("the client to reach the moved server by name", async () => {
      const page = await guestFetch(0, client.status.address, "http://server.vm.blixard.internal/");
      return page?.includes("<h1>server</h1>") || undefined;
    });
  });

  it("gives 50 concurrent creates through three nodes' APIs 50 distinct addresses", async () => {
    const live = nodes.filter((n) => n.alive);
    const create = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const node = live[i % live.length]!;
        node
          .cliAsync("vm", "create", `many-${i}`, "--kernel", kernel, "--network", "bridge")
          .then((r) => (r.code === 0 ? resolve() : reject(new Error(r.stderr))), reject);
      });
    await Promise.all(Array.from({ length: 50 }, (_, i) => create(i)));
    const all = JSON.parse(nodes[0]!.ok("vm", "list", "-o", "json")) as VmJson[];
    const addresses = all.filter((v) => v.name.startsWith("many-")).map((v) => v.status.address);
    expect(addresses).toHaveLength(50);
    expect(new Set(addresses).size).toBe(50);
    expect(addresses.every((a) => /^10\.88\.\d+\.\d+$/.test(a))).toBe(true);
  });

  it("leaves no bridge, VXLAN device, tap, table or dnsmasq behind a node stopped with --stop-vms-on-exit", async () => {
    const h0 = hosts.hosts[0]!;
    const links = () => h0.exec(["ip", "-br", "link"]);
    await serving("client");
    expect(links()).toMatch(/blxbr0/);
    expect(links(), "the client VM's tap").toMatch(/blxt[0-9a-f]{8}/);
    const before = h0.exec(["ip", "netns", "pids", h0.netns]).split(/\s+/).filter(Boolean);
    expect(before.length).toBeGreaterThan(1);
    await nodes[0]!.kill("SIGTERM");
    expect(links()).not.toMatch(/blx/);
    // The loopback guard (blixard_vm_guard) is the jail's, shared by every node on a host by design.
    const tables = h0.exec(["nft", "list", "tables"]);
    expect(tables).not.toMatch(/table (inet|bridge) blixard\b/);
    const left = h0.exec(["ip", "netns", "pids", h0.netns]).split(/\s+/).filter(Boolean);
    const commands = left.map((pid) => {
      try {
        return h0.exec(["cat", `/proc/${pid}/comm`]).trim();
      } catch {
        return "";
      }
    });
    expect(commands.filter((c) => c === "dnsmasq" || c.startsWith("qemu"))).toEqual([]);
  });
});
