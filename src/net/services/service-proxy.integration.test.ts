/**
 * The service proxy on a real kernel: network namespaces stand in for a node, three member VMs and a
 * client. The node namespace holds a bridge (the members' network) and routes between it and the
 * client's link; the proxy, fed from a real store, writes its nftables table there. The members have
 * no route back to the client, so an answer reaches it only through the node's masquerade, as a
 * member on another node would need.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceProxy } from "../../agent/services/service-proxy.js";
import { keys } from "../../core/keys.js";
import { encodeServiceRecord } from "../../core/service-record.js";
import { parseServiceSpec } from "../../core/service-spec.js";
import type { VmStatus } from "../../core/vm-record.js";
import { encodeVmRecord } from "../../core/vm-record-codec.js";
import { parseVmSpec } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import { SqliteStore } from "../../store/sqlite/sqlite-store.js";
import { reportStatus } from "../../testing/seed-vms.js";
import { nftRunner } from "./nft-runner.js";

const tag = `bsv${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const ns = { node: `${tag}-node`, client: `${tag}-cli`, members: [1, 2, 3].map((i) => `${tag}-m${i}`) };
const VIP = "10.89.0.42";
const NODE_UNDERLAY = "192.168.77.1";
const memberAddress = (i: number) => `10.88.0.${10 + i}`;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}
function inNs(name: string, ...argv: string[]): string {
  return execFileSync("ip", ["netns", "exec", name, ...argv], { encoding: "utf8", timeout: 10_000 });
}

/** GET through the client namespace; the body names the member that answered. */
function fetchFromClient(url: string): string {
  try {
    return inNs(ns.client, "curl", "-sf", "--max-time", "3", url).trim();
  } catch {
    return "(failed)";
  }
}

describe("service proxy in network namespaces", () => {
  const created: string[] = [];
  const servers: ChildProcess[] = [];
  let dir: string;
  let store: SqliteStore;
  let proxy: ServiceProxy | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "blixard-svc-"));
    for (const name of [ns.node, ns.client, ...ns.members]) {
      ip("netns", "add", name);
      created.push(name);
    }
    ip("-n", ns.node, "link", "add", "br0", "type", "bridge");
    ip("-n", ns.node, "addr", "add", "10.88.0.1/24", "dev", "br0");
    ip("-n", ns.node, "link", "set", "br0", "up");
    inNs(ns.node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    ns.members.forEach((member, i) => {
      const port = `vm${i + 1}`;
      ip("-n", ns.node, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", member);
      ip("-n", ns.node, "link", "set", port, "master", "br0", "up");
      ip("-n", member, "addr", "add", `${memberAddress(i + 1)}/24`, "dev", "eth0");
      ip("-n", member, "link", "set", "eth0", "up");
      ip("-n", member, "link", "set", "lo", "up");
      const root = join(dir, `m${i + 1}`);
      execFileSync("mkdir", ["-p", root]);
      writeFileSync(join(root, "index.html"), `member-${i + 1}\n`);
      servers.push(
        spawn("ip", ["netns", "exec", member, "busybox", "httpd", "-f", "-p", "8080", "-h", root], {
          stdio: "ignore",
        }),
      );
    });
    ip("-n", ns.node, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", ns.client);
    ip("-n", ns.node, "addr", "add", `${NODE_UNDERLAY}/24`, "dev", "up0");
    ip("-n", ns.node, "link", "set", "up0", "up");
    ip("-n", ns.client, "addr", "add", "192.168.77.2/24", "dev", "eth0");
    ip("-n", ns.client, "link", "set", "eth0", "up");
    ip("-n", ns.client, "route", "add", "default", "via", NODE_UNDERLAY);

    store = await SqliteStore.open({ path: join(dir, "store.db"), clock: systemClock });
    const spec = parseServiceSpec({ name: "web", port: 80, targetPort: 8080, group: "web", hostPort: 30080 });
    await store.put(
      keys.service("web"),
      encodeServiceRecord({ name: "web", spec, address: VIP, createdAt: "" }),
    );
    for (const i of [1, 2, 3]) {
      const name = `web-${i}`;
      const vmSpec = parseVmSpec({ name, network: "bridge", kernel: "/images/vmlinuz" });
      const record = {
        name,
        spec: vmSpec,
        desiredState: "running" as const,
        restartNonce: 0,
        deleting: false,
      };
      await store.put(
        keys.vm(name),
        encodeVmRecord({
          ...record,
          createdAt: "2026-12-03T00:00:00Z",
          group: "web",
          address: memberAddress(i),
        }),
      );
      await store.put(keys.placement(name), JSON.stringify({ node: "n1", epoch: 1, recordRevision: 1 }));
      await setStatus(name, {});
    }
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all(
      servers.map((server) => {
        if (server.exitCode !== null || server.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => server.once("exit", resolve));
        server.kill("SIGKILL");
        return exited;
      }),
    );
    await store?.close();
    for (const name of created) ip("netns", "delete", name);
    rmSync(dir, { recursive: true, force: true });
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(tag);
  });

  /** A status as the VM's agent reports it: Running and healthy unless `status` says otherwise. */
  const setStatus = (name: string, status: Partial<VmStatus>) =>
    reportStatus(store, name, "n1", { phase: "Running", health: "healthy", ...status });

  async function waitFor(done: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !done(); i++) await systemClock.sleep(25);
    expect(done()).toBe(true);
  }

  function answers(url: string, n: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const body = fetchFromClient(url);
      counts.set(body, (counts.get(body) ?? 0) + 1);
    }
    return counts;
  }

  it("spreads connections to the service address over every member, and drops one reported unhealthy", async () => {
    proxy = new ServiceProxy({
      store,
      clock: systemClock,
      logger: silentLogger,
      apply: nftRunner(["ip", "netns", "exec", ns.node, "nft"]),
      hostAddresses: [NODE_UNDERLAY],
    });
    // Before the proxy, the address leads nowhere.
    expect(fetchFromClient(`http://${VIP}/`)).toBe("(failed)");
    await proxy.start();
    await waitFor(() => proxy!.applies === 1);

    const spread = answers(`http://${VIP}/`, 30);
    expect([...spread.keys()].sort()).toEqual(["member-1", "member-2", "member-3"]);
    const viaHostPort = answers(`http://${NODE_UNDERLAY}:30080/`, 12);
    expect([...viaHostPort.keys()].every((k) => k.startsWith("member-"))).toBe(true);

    await setStatus("web-2", { health: "unhealthy" });
    await waitFor(() => proxy!.applies === 2);
    const after = answers(`http://${VIP}/`, 30);
    expect([...after.keys()].sort()).toEqual(["member-1", "member-3"]);
  });

  it("refuses connections at once while no member is healthy, and leaves nothing behind when it stops", async () => {
    for (const i of [1, 3]) await setStatus(`web-${i}`, { phase: "Failed" });
    await waitFor(() => proxy!.applies === 3);
    const started = Date.now();
    expect(fetchFromClient(`http://${VIP}/`)).toBe("(failed)");
    // A TCP reset, not the 3 s timeout of a dropped packet.
    expect(Date.now() - started).toBeLessThan(2500);
    await proxy!.stop();
    proxy = undefined;
    expect(inNs(ns.node, "nft", "list", "tables")).not.toContain("blixard-svc");
  });
});
