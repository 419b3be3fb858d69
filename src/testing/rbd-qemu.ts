/**
 * A qemu holding an RBD image for tests: no guest (`-M none`), the image opened through the rbd
 * block driver exactly as a VM's volume is (rbdBlockdevArgs, the client files in a state dir), and
 * reads and writes issued inside that qemu with HMP's `qemu-io`, so that they go through the same
 * librbd instance, lock and client address a guest's I/O would. qemu-io prints its results with
 * printf to qemu's stdout, so qemu runs under `stdbuf -oL` and `io` waits for the result line.
 * Optionally started through a wrapper (the jail's command line).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { SANDBOX } from "../drivers/qemu/qemu-args.js";
import { QmpClient } from "../drivers/qemu/qmp-client.js";
import { rbdBlockdevArgs } from "../drivers/qemu/rbd-blockdev.js";
import type { RbdSource } from "../drivers/shared/ceph-client-files.js";
import { systemClock } from "../platform/system-clock.js";

export interface RbdHolder {
  pid: number;
  /** Runs a qemu-io command (`write -P 0x11 0 64k`) on the volume and returns its output. */
  io(command: string): Promise<string>;
  stop(): Promise<void>;
}

async function waitFor<T>(what: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The last line qemu-io prints for a read, write or flush, or its failure. */
const RESULT = /(wrote|read) \d+\/\d+ bytes|failed|error|\bops\b/i;

export async function startRbdHolder(
  stateDir: string,
  source: RbdSource,
  options: { wrap?: (program: string, argv: string[]) => string[]; qemu?: string } = {},
): Promise<RbdHolder> {
  const qmp = join(stateDir, "qmp.sock");
  const qemuArgs = [
    "-oL",
    options.qemu ?? "/usr/bin/qemu-system-x86_64",
    ...["-M", "none", "-nodefaults", "-no-user-config", "-display", "none"],
    ...["-sandbox", SANDBOX],
    ...rbdBlockdevArgs(source, "vol0"),
    ...["-qmp", `unix:${qmp},server=on,wait=off`],
  ];
  const wrapped = options.wrap ? options.wrap("/usr/bin/stdbuf", qemuArgs) : ["/usr/bin/stdbuf", ...qemuArgs];
  const [program, ...args] = wrapped as [string, ...string[]];
  let output = "";
  const child: ChildProcess = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], cwd: stateDir });
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const client = await waitFor("qemu's QMP socket", async () => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`qemu exited (${child.exitCode ?? child.signalCode}): ${output}`);
    }
    return QmpClient.connect(qmp, { clock: systemClock, timeoutMs: 2_000, commandTimeoutMs: 60_000 });
  }).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw err;
  });
  return {
    pid: child.pid ?? -1,
    io: async (command) => {
      const before = output.length;
      await client.execute<string>("human-monitor-command", { "command-line": `qemu-io vol0 "${command}"` });
      return waitFor(
        "qemu-io's result",
        async () => {
          const text = output.slice(before);
          if (!RESULT.test(text)) throw new Error(`no result yet: ${JSON.stringify(text)}`);
          return text;
        },
        10_000,
      );
    },
    stop: async () => {
      client.close();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
