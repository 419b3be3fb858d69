/**
 * Test support for the jail's e2e tests: a server on a non-loopback address in its own network
 * namespace (what a guest may still reach), a test listener on the host's loopback (what it must
 * not), /proc status and cgroup readers, and the hostile guest's initramfs (test/fixtures/isolation).
 * Each test names its own namespace and addresses, so two can run side by side.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, image, isAlive } from "./harness.js";

export function sh(cmd: string, ...args: string[]): void {
  execFileSync(cmd, args, { stdio: "ignore" });
}

export interface OutsideServer {
  addr: string;
  port: number;
  www: string;
  stop(): void;
}

/** A busybox httpd on `nsAddr` in namespace `netns`, reached from the host over a veth pair. */
export async function startOutsideServer(
  work: string,
  net: { netns: string; vethHost: string; vethNs: string; hostAddr: string; nsAddr: string },
): Promise<OutsideServer> {
  const cleanup = () => {
    // Deleting the namespace deletes its end of the veth pair, which deletes the host's end.
    try {
      sh("ip", "netns", "del", net.netns);
    } catch {}
    try {
      sh("ip", "link", "del", net.vethHost);
    } catch {}
  };
  cleanup();
  sh("ip", "netns", "add", net.netns);
  sh("ip", "link", "add", net.vethHost, "type", "veth", "peer", "name", net.vethNs);
  sh("ip", "link", "set", net.vethNs, "netns", net.netns);
  sh("ip", "addr", "add", `${net.hostAddr}/30`, "dev", net.vethHost);
  sh("ip", "link", "set", net.vethHost, "up");
  sh("ip", "netns", "exec", net.netns, "ip", "addr", "add", `${net.nsAddr}/30`, "dev", net.vethNs);
  sh("ip", "netns", "exec", net.netns, "ip", "link", "set", net.vethNs, "up");
  sh("ip", "netns", "exec", net.netns, "ip", "link", "set", "lo", "up");
  const www = join(work, "www");
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, "hello.txt"), "hello-from-outside\n");
  const port = await freePort();
  const server: ChildProcess = spawn(
    "ip",
    ["netns", "exec", net.netns, "busybox", "httpd", "-f", "-p", `${net.nsAddr}:${port}`, "-h", www],
    { stdio: "ignore" },
  );
  return {
    addr: net.nsAddr,
    port,
    www,
    stop() {
      if (server.pid !== undefined && isAlive(server.pid)) server.kill("SIGKILL");
      cleanup();
    },
  };
}

export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const [key, value] = line.split(":\t");
    if (key && value !== undefined) out[key] = value.trim();
  }
  return out;
}

/** The process's v1 memory cgroup dir (or its v2 dir). */
export function memoryCgroup(pid: number): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  const v1 = lines.find((l) => /^\d+:[^:]*\bmemory\b[^:]*:/.test(l));
  if (v1) return join("/sys/fs/cgroup/memory", v1.split(":")[2]!);
  return join("/sys/fs/cgroup", lines.find((l) => l.startsWith("0::"))!.slice(3));
}

/** The memory limit of a cgroup dir, v1 or v2, in bytes. */
export function memoryLimit(cgroup: string): number {
  for (const file of ["memory.limit_in_bytes", "memory.max"]) {
    try {
      return Number(readFileSync(join(cgroup, file), "utf8"));
    } catch {}
  }
  throw new Error(`no memory limit file in ${cgroup}`);
}

/** The image's initrd plus the probe (test/fixtures/isolation), as one concatenated initramfs. */
export function probeInitrd(out: string): string {
  const extra = execFileSync("sh", [
    "-c",
    'cd test/fixtures/isolation && printf "probe-init\\nprobe.sh\\n" | cpio -o -H newc --quiet | gzip -n',
  ]);
  writeFileSync(out, Buffer.concat([readFileSync(image().initrd), extra]));
  return out;
}
