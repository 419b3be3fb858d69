/**
 * The VM jail and passt networking, tried as a hostile tenant would with real VMs: qemu and passt run
 * as a VM uid with seccomp, no capabilities and no_new_privs, in a cgroup with a memory limit; a guest
 * that tries every host loopback port it can name (the node API, etcd's client and peer ports, a test
 * listener) through the gateway gets nothing, while it still reaches a server on a non-loopback
 * address (a network namespace); a guest that outgrows its cgroup's memory is killed there, and the
 * node and the other VM carry on.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, getFrom, idOf, image, isAlive, TestNode, until } from "./harness.js";

const NETNS = "blx-iso-e2e";
const VETH_HOST = "blxiso0";
const VETH_NS = "blxiso1";
// 198.18.0.0/15 is reserved for benchmarking (RFC 2544): never a real peer.
const HOST_ADDR = "198.18.0.1";
const NS_ADDR = "198.18.0.2";

function sh(cmd: string, ...args: string[]): void {
  execFileSync(cmd, args, { stdio: "ignore" });
}

/**
 * passt (with --no-map-gw) hands the guest's packets for its gateway and DNS addresses to the host's
 * network as they are, and on some networks something out there answers every TCP connection to any
 * address (this development machine's does, on every port outside 32768-60999). Blackhole routes for
 * those two addresses, while the test runs, keep such an outside answer from passing for the host's
 * own loopback service; a passt that mapped them to the host would not route them at all, and would
 * still be caught.
 */
const GATEWAY_ROUTES = ["10.0.2.2/32", "10.0.2.3/32"];

function removeGatewayRoutes(): void {
  for (const route of GATEWAY_ROUTES) {
    try {
      sh("ip", "route", "del", "blackhole", route);
    } catch {}
  }
}

function cleanupNetns(): void {
  // Deleting the namespace deletes its end of the veth pair, which deletes the host's end.
  try {
    sh("ip", "netns", "del", NETNS);
  } catch {}
  try {
    sh("ip", "link", "del", VETH_HOST);
  } catch {}
}

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const [key, value] = line.split(":\t");
    if (key && value !== undefined) out[key] = value.trim();
  }
  return out;
}

/** The process's v1 memory cgroup dir (or its v2 dir). */
function memoryCgroup(pid: number): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  const v1 = lines.find((l) => /^\d+:[^:]*\bmemory\b[^:]*:/.test(l));
  if (v1) return join("/sys/fs/cgroup/memory", v1.split(":")[2]!);
  return join("/sys/fs/cgroup", lines.find((l) => l.startsWith("0::"))!.slice(3));
}

function launchRecord(node: TestNode, vm: string): { pid: number; passtPid: number; jail?: { uid: number } } {
  return JSON.parse(readFileSync(join(node.vmDir(vm), "vm.json"), "utf8"));
}

/** The image's initrd plus the probe (test/fixtures/isolation), as one concatenated initramfs. */
function probeInitrd(dir: string): string {
  const out = join(dir, "probe-initrd.img");
  const extra = execFileSync("sh", [
    "-c",
    'cd test/fixtures/isolation && printf "probe-init\\nprobe.sh\\n" | cpio -o -H newc --quiet | gzip -n',
  ]);
  writeFileSync(out, Buffer.concat([readFileSync(image().initrd), extra]));
  return out;
}

describe("VM isolation with real VMs", () => {
  let node: TestNode;
  let work: string;
  let initrd: string;
  let listener: Server;
  let listenerPort: number;
  let outside: ChildProcess | undefined;
  let outsidePort: number;

  beforeAll(async () => {
    cleanupNetns();
    removeGatewayRoutes();
    for (const route of GATEWAY_ROUTES) sh("ip", "route", "add", "blackhole", route);
    work = mkdtempSync(join(tmpdir(), "blixard-iso-"));
    initrd = probeInitrd(work);
    // A loopback service that is not Blixard's: what any other host daemon looks like to a guest.
    listener = createServer((s) => s.end("secret\n"));
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    listenerPort = (listener.address() as { port: number }).port;
    // A server on a non-loopback address, in its own network namespace behind a veth pair.
    sh("ip", "netns", "add", NETNS);
    sh("ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS);
    sh("ip", "link", "set", VETH_NS, "netns", NETNS);
    sh("ip", "addr", "add", `${HOST_ADDR}/30`, "dev", VETH_HOST);
    sh("ip", "link", "set", VETH_HOST, "up");
    sh("ip", "netns", "exec", NETNS, "ip", "addr", "add", `${NS_ADDR}/30`, "dev", VETH_NS);
    sh("ip", "netns", "exec", NETNS, "ip", "link", "set", VETH_NS, "up");
    sh("ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up");
    const www = join(work, "www");
    execFileSync("mkdir", ["-p", www]);
    writeFileSync(join(www, "hello.txt"), "hello-from-outside\n");
    outsidePort = await freePort();
    outside = spawn(
      "ip",
      ["netns", "exec", NETNS, "busybox", "httpd", "-f", "-p", `${NS_ADDR}:${outsidePort}`, "-h", www],
      { stdio: "ignore" },
    );
    node = await TestNode.start(["--cluster-init"], { portSpan: 3 });
  }, 120_000);

  afterAll(async () => {
    await node?.destroy();
    if (outside?.pid !== undefined && isAlive(outside.pid)) outside.kill("SIGKILL");
    listener?.close();
    cleanupNetns();
    removeGatewayRoutes();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function createProbe(name: string, extra: string, probeLoopback = true): void {
    const loop = probeLoopback ? [node.port, node.port + 1, node.port + 2, listenerPort].join(",") : "";
    node.ok(
      "vm",
      "create",
      name,
      "--kernel",
      image().kernel,
      "--initrd",
      initrd,
      "--memory",
      "256",
      "--cmdline",
      `rdinit=/probe-init probe.loop=${loop} probe.out=${NS_ADDR}:${outsidePort} ${extra}`.trim(),
      "--start",
    );
  }

  async function probeLines(name: string, last: string): Promise<string[]> {
    return until(
      `${name}'s probe to finish`,
      () => {
        const lines = node
          .ok("vm", "logs", name)
          .split(/\r?\n/)
          .filter((l) => l.startsWith("PROBE"));
        return lines.some((l) => l.startsWith(last)) ? lines : undefined;
      },
      180_000,
    );
  }

  it("runs qemu and passt as a VM uid with seccomp, no capabilities and no_new_privs, in a memory-limited cgroup", async () => {
    // The node says how it isolates its VMs.
    const view = JSON.parse(node.ok("node", "get", idOf(node), "-o", "json")) as { isolation: string };
    expect(view.isolation).toMatch(
      /^strict: per-VM uid, seccomp, no capabilities, v[12] cgroups, private filesystem view$/,
    );
    createProbe("probe", "");
    const record = launchRecord(node, "probe");
    for (const pid of [record.pid, record.passtPid]) {
      const s = status(pid);
      // The attack: a guest that escapes qemu lands on an unprivileged uid with nothing to escalate with.
      expect(s["Uid"]?.split("\t")[0]).not.toBe("0");
      expect(s["Uid"]?.split("\t").every((u) => u === String(record.jail?.uid))).toBe(true);
      expect(s["CapEff"]).toBe("0000000000000000");
      expect(s["CapPrm"]).toBe("0000000000000000");
      expect(s["NoNewPrivs"]).toBe("1");
    }
    expect(status(record.pid)["CapBnd"]).toBe("0000000000000000");
    // passt sandboxes itself further in a user namespace of its own, whose (full) bounding set holds
    // only there, over nothing of the host's; in the host's namespace it has nothing.
    if (status(record.passtPid)["CapBnd"] !== "0000000000000000") {
      expect(readlinkSync(`/proc/${record.passtPid}/ns/user`)).not.toBe(readlinkSync("/proc/self/ns/user"));
    }
    expect(status(record.pid)["Seccomp"]).toBe("2");
    const cgroup = memoryCgroup(record.pid);
    expect(cgroup).toContain("/blixard/");
    const limit = Number(readFileSync(join(cgroup, "memory.limit_in_bytes"), "utf8"));
    expect(limit).toBe((256 + 256) * 1024 * 1024);
    expect(memoryCgroup(record.passtPid)).toBe(cgroup);
    // Its CPU weight is its vcpus + 1, and its node's group carries it, so that under contention
    // the jailed VM is not squeezed into one host thread's share (docs/isolation.md).
    const cpu = readFileSync(`/proc/${record.pid}/cgroup`, "utf8").match(
      /^\d+:(?:[^:]*,)?cpu(?:,[^:]*)?:(.*)$/m,
    )?.[1];
    if (cpu) {
      const shares = (dir: string) =>
        Number(readFileSync(join("/sys/fs/cgroup/cpu", dir, "cpu.shares"), "utf8"));
      expect(shares(cpu)).toBe(2 * 1024);
      expect(shares(join(cpu, ".."))).toBeGreaterThanOrEqual(2 * 1024);
    }
    // The attack: a guest that escapes qemu looks around the host's filesystem for the node's token,
    // its keys, other tenants' files. qemu's root is its view: system dirs read-only, its inputs, a
    // few devices, and its own state dir (seen here through /proc/<pid>/root, as root).
    const root = `/proc/${record.pid}/root`;
    const allowed = ["bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "nix", "etc", "dev", "in"];
    const dataTop = node.dataDir.split("/")[1]!;
    expect(readdirSync(root).filter((d) => !allowed.includes(d) && d !== dataTop)).toEqual([]);
    expect(readdirSync(join(root, "etc"))).toEqual(["ld.so.cache"]);
    expect(readdirSync(join(root, "in")).sort()).toEqual(["initrd", "kernel"]);
    expect(existsSync(join(node.dataDir, "token"))).toBe(true);
    expect(existsSync(join(root, node.dataDir, "token"))).toBe(false);
    expect(existsSync(join(root, node.dataDir, "store.db"))).toBe(false);
    expect(readdirSync(join(root, node.dataDir))).toEqual(["vms"]);
    expect(readdirSync(join(root, node.dataDir, "vms"))).toEqual(["probe"]);
    expect(existsSync(join(root, node.vmDir("probe"), "console.log"))).toBe(true);
    for (const host of ["/root", "/home", "/proc/1", "/sys/kernel", "/run/blixard"]) {
      expect(existsSync(join(root, host))).toBe(false);
    }
    // Another VM's files are not this VM's: the state dir is its uid's alone.
    expect(execFileSync("stat", ["-c", "%u %a", node.vmDir("probe")], { encoding: "utf8" }).trim()).toBe(
      `${record.jail?.uid} 700`,
    );
  }, 240_000);

  it("gives a guest no way to the host's loopback services, and still a way out to other addresses", async () => {
    const lines = await probeLines("probe", "PROBE done");
    const loop = lines.filter((l) => l.startsWith("PROBE loop "));
    // API, etcd client, etcd peer and the test listener, each through 10.0.2.2 and 10.0.2.3.
    expect(loop).toHaveLength(8);
    for (const line of loop) expect(line).toMatch(/ closed$/);
    // The guest's root routed 127.0.0.0/8 out of its NIC: passt gets packets for the host's loopback
    // itself, and must not connect them either.
    expect(lines.find((l) => l.startsWith("PROBE route "))).toMatch(/dev eth0/);
    const direct = lines.filter((l) => l.startsWith("PROBE direct "));
    expect(direct).toHaveLength(4);
    for (const line of direct) expect(line).toMatch(/ closed$/);
    // The same test reaches a listening port elsewhere: "closed" above is the jail, not a broken probe.
    expect(lines).toContain(`PROBE control ${NS_ADDR}:${outsidePort} open`);
    expect(lines).toContain("PROBE out hello-from-outside");
  }, 240_000);

  it("kills a VM that outgrows its cgroup's memory there, leaving the node and the other VM running", async () => {
    createProbe("hog", "probe.fill=200", false);
    await probeLines("hog", "PROBE done");
    const hog = launchRecord(node, "hog");
    const other = launchRecord(node, "probe");
    // A cgroup tighter than the VM's -m shows the limit bites (the guest cannot allocate beyond -m).
    const cgroup = memoryCgroup(hog.pid);
    const usage = Number(readFileSync(join(cgroup, "memory.usage_in_bytes"), "utf8"));
    writeFileSync(join(cgroup, "memory.limit_in_bytes"), String(usage + 48 * 1024 * 1024));
    writeFileSync(join(work, "www", "go"), "go\n");
    await until("the hog's qemu to be killed", () => !isAlive(hog.pid) || undefined, 120_000).catch(
      (err: Error) => {
        // Say what the guest did and what the cgroup saw: a timeout alone tells nothing.
        const tail = node.cli("vm", "logs", "hog", "--tail", "15").stdout;
        const seen = ["memory.usage_in_bytes", "memory.limit_in_bytes", "memory.failcnt"]
          .map((f) => `${f}=${readFileSync(join(cgroup, f), "utf8").trim()}`)
          .join(" ");
        throw new Error(`${err.message}; cgroup: ${seen}; console:\n${tail}`);
      },
    );
    // Killed by the cgroup's OOM killer: the limit was hit, and the kernel says it killed there.
    expect(Number(readFileSync(join(cgroup, "memory.failcnt"), "utf8"))).toBeGreaterThan(0);
    expect(readFileSync(join(cgroup, "memory.oom_control"), "utf8")).toMatch(/oom_kill [1-9]/);
    expect(isAlive(other.pid)).toBe(true);
    expect((await getFrom(node, "/healthz")).status).toBe(200);
    expect(node.vm("probe").status.phase).toBe("Running");
  }, 300_000);
});
