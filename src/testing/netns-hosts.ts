/**
 * Test hosts as network namespaces: K namespaces, each joined by a veth pair to one underlay bridge
 * in a namespace of its own, so that each host has an underlay address (10.251.<net>.<i>/24) and
 * nothing else; a node process runs in one with `ip netns exec`. Cutting a host takes its link down
 * (a lost host). Every name is generated per instance and everything is removed by that name or by
 * pid, never by a pattern, so parallel runs and other helpers' devices are never touched.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

/** Runs `argv` and fails with its stderr unless it exits 0 (argv only, never a shell string). */
export function run(argv: string[], input?: string): string {
  const [cmd, ...args] = argv;
  const res: SpawnSyncReturns<string> = spawnSync(cmd!, args, {
    encoding: "utf8",
    timeout: 60_000,
    ...(input !== undefined ? { input } : {}),
  });
  if (res.status !== 0) {
    throw new Error(
      `${argv.join(" ")} failed (${res.status ?? res.signal}): ${res.stderr}${res.error ?? ""}`,
    );
  }
  return res.stdout;
}

/** `ip netns exec NS argv...` as an argv (the command execs in place: the pid is the command's). */
export function inNetns(ns: string, argv: string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

/**
 * argv run in `ns` with the host's cgroup hierarchies still mounted (netns-run.sh): what a node
 * process needs to jail its VMs. Execs in place too.
 */
export function inHostNetns(ns: string, argv: string[]): string[] {
  return ["sh", join(import.meta.dirname, "../../test/e2e/netns-run.sh"), ns, ...argv];
}

/** A name no other run uses: prefix + 8 hex digits (short enough for a 15-character device name). */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

/** The namespaces that exist now (`ip netns list` prints "NAME" or "NAME (id: N)"). */
export function netnsList(): string[] {
  return run(["ip", "netns", "list"])
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name !== "");
}

/** Host-side (root namespace) link names now. */
export function hostLinks(): string[] {
  return (JSON.parse(run(["ip", "-j", "link", "show"])) as { ifname: string }[]).map((l) => l.ifname);
}

/** Deletes a namespace this run made (by its generated name); the devices in it go with it. */
export function deleteNetns(ns: string): void {
  if (netnsList().includes(ns)) run(["ip", "netns", "delete", ns]);
}

/** One test host: a namespace with lo up and eth0 on the underlay at `address`. */
export class NetnsHost {
  constructor(
    /** The namespace's (generated) name. */
    readonly netns: string,
    /** The host's underlay address (no prefix length). */
    readonly address: string,
    /** Its link's far end, in the underlay namespace: taken down to cut the host off. */
    readonly underlayLink: string,
    private readonly underlay: string,
  ) {}

  /** Runs argv in this host's namespace; fails with its stderr unless it exits 0. */
  exec(argv: string[]): string {
    return run(inNetns(this.netns, argv));
  }

  /** Options for a TestNode on this host (harness.ts): bound to its address, run in its namespace. */
  nodeOptions(): { netns: string; host: string; portSpan: number } {
    return { netns: this.netns, host: this.address, portSpan: 3 };
  }

  /** Cuts the host off the underlay (its link goes down at the bridge): a lost host. */
  cut(): void {
    run(inNetns(this.underlay, ["ip", "link", "set", this.underlayLink, "down"]));
  }

  /** Undoes cut(). */
  restore(): void {
    run(inNetns(this.underlay, ["ip", "link", "set", this.underlayLink, "up"]));
  }
}

/**
 * K hosts on one underlay: namespace `<id>u` holds bridge `br0` (10.251.<net>.254/24, so the underlay
 * can be probed from its side) and one veth per host, `<id>v<i>`, whose peer is eth0 in host
 * namespace `<id>h<i>` (10.251.<net>.<i+1>/24, default route via .254). The devices exist only inside these namespaces, so
 * deleting the namespaces removes them all; nothing is added to the caller's namespace.
 */
export class NetnsHosts {
  private constructor(
    readonly id: string,
    readonly underlay: string,
    readonly hosts: NetnsHost[],
  ) {}

  /** The namespaces this instance made (underlay first), by name. */
  get namespaces(): string[] {
    return [this.underlay, ...this.hosts.map((h) => h.netns)];
  }

  /** The veth names this instance made (both ends of each pair have names of its own). */
  get links(): string[] {
    return this.hosts.map((h) => h.underlayLink);
  }

  static create(k: number): NetnsHosts {
    if (!Number.isInteger(k) || k < 1 || k > 200)
      throw new Error(`NetnsHosts.create: k must be 1..200, got ${k}`);
    // 10.251.0.0/16 is unused here and by the other helpers' tests; a random /24 inside it keeps two
    // concurrent instances' addresses apart too (they are separate L2 segments anyway).
    const net = 1 + Math.floor(Math.random() * 250);
    const id = uniqueName("bh");
    const underlay = `${id}u`;
    const made = new NetnsHosts(id, underlay, []);
    try {
      run(["ip", "netns", "add", underlay]);
      const u = (...args: string[]) => run(inNetns(underlay, ["ip", ...args]));
      u("link", "set", "lo", "up");
      u("link", "add", "br0", "type", "bridge");
      u("addr", "add", `10.251.${net}.254/24`, "dev", "br0");
      u("link", "set", "br0", "up");
      for (let i = 0; i < k; i++) {
        const ns = `${id}h${i}`;
        const link = `${id}v${i}`;
        const address = `10.251.${net}.${i + 1}`;
        run(["ip", "netns", "add", ns]);
        made.hosts.push(new NetnsHost(ns, address, link, underlay));
        u("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns);
        u("link", "set", link, "master", "br0", "up");
        const h = (...args: string[]) => run(inNetns(ns, ["ip", ...args]));
        h("link", "set", "lo", "up");
        h("addr", "add", `${address}/24`, "dev", "eth0");
        h("link", "set", "eth0", "up");
        // Real hosts have a default route, and passt (user-mode VM networking) refuses to start
        // without one. It leads to the underlay's namespace, which forwards nowhere.
        h("route", "add", "default", "via", `10.251.${net}.254`);
      }
    } catch (err) {
      made.destroy();
      throw err;
    }
    return made;
  }

  /**
   * Kills every process still running in one of this instance's namespaces (by pid, from `ip netns
   * pids`: only processes inside namespaces it made), then deletes the namespaces, which removes
   * every device in them. Safe to call twice.
   */
  destroy(): void {
    const existing = new Set(netnsList());
    for (const ns of this.namespaces) {
      if (!existing.has(ns)) continue;
      for (const pid of run(["ip", "netns", "pids", ns])
        .split(/\s+/)
        .filter((p) => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // It exited on its own meanwhile.
        }
      }
    }
    for (const ns of this.namespaces) deleteNetns(ns);
  }
}
