/**
 * Network namespaces for the src/net integration tests: each test makes its own, with names unique to
 * its process, joins them with veth pairs, runs commands in them, and removes every namespace it made
 * (by the name it generated) when done. Removing a namespace removes the devices inside it and ends
 * nothing else; processes a test started in one are killed by the test, by pid.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";

export class NetnsBed {
  private readonly made: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly tag: string;

  constructor(label: string) {
    this.tag = `netdev-${label}-${process.pid.toString(36)}`;
  }

  /** Makes namespace `<tag>-<role>`, with its loopback up unless told otherwise; returns its name. */
  add(role: string, options: { loopback?: boolean } = {}): string {
    const name = `${this.tag}-${role}`;
    execFileSync("ip", ["netns", "add", name]);
    this.made.push(name);
    if (options.loopback !== false) this.run(name, ["ip", "link", "set", "lo", "up"]);
    return name;
  }

  /** Runs a command in the namespace; returns stdout, throws with stderr on failure. */
  run(ns: string, argv: string[], input?: string): string {
    const [program, ...args] = argv as [string, ...string[]];
    return execFileSync("ip", ["netns", "exec", ns, program, ...args], {
      encoding: "utf8",
      timeout: 30_000,
      ...(input === undefined ? {} : { input }),
      stdio: ["pipe", "pipe", "pipe"],
    });
  }

  /** Like run, but reports success instead of throwing. */
  ok(ns: string, argv: string[]): boolean {
    try {
      this.run(ns, argv);
      return true;
    } catch {
      return false;
    }
  }

  /** A veth pair: `a` in namespace `nsA`, `b` in `nsB`, both up. */
  veth(nsA: string, a: string, nsB: string, b: string): void {
    this.run(nsA, ["ip", "link", "add", a, "type", "veth", "peer", "name", b, "netns", nsB]);
    this.run(nsA, ["ip", "link", "set", a, "up"]);
    this.run(nsB, ["ip", "link", "set", b, "up"]);
  }

  /** Starts a long-running process in the namespace; killed by pid in cleanup(). */
  spawn(ns: string, argv: string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    return child;
  }

  /** A TCP server on 0.0.0.0:port in the namespace that answers "hello"; resolves once it listens. */
  async tcpServer(ns: string, port: number): Promise<ChildProcess> {
    const script = `require("node:net").createServer((s) => s.end("hello")).listen(${port}, "0.0.0.0", () => console.log("listening"))`;
    const child = this.spawn(ns, [process.execPath, "-e", script]);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => d.toString().includes("listening") && resolve());
      child.once("exit", (code) => reject(new Error(`tcp server in ${ns} exited with ${code}`)));
    });
    return child;
  }

  /**
   * Whether a TCP connection from the namespace to host:port gets the server's "hello" (2 s limit),
   * from `localAddress` when given.
   */
  tcpReaches(ns: string, host: string, port: number, localAddress?: string): boolean {
    const options = JSON.stringify({ port, host, ...(localAddress ? { localAddress } : {}) });
    const script = `const s = require("node:net").connect(${options}); let d = ""; s.on("data", (c) => (d += c)); s.on("end", () => process.exit(d === "hello" ? 0 : 1)); s.on("error", () => process.exit(1)); setTimeout(() => process.exit(2), 2000);`;
    return this.ok(ns, [process.execPath, "-e", script]);
  }

  /** Kills what the test started (by pid) and deletes the namespaces it made (by name). */
  async cleanup(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      }
    }
    for (const name of this.made.reverse()) {
      try {
        execFileSync("ip", ["netns", "del", name]);
      } catch {
        // Already gone.
      }
    }
  }
}
