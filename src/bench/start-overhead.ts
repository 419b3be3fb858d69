/**
 * Start overhead: from `blixard vm start` to the guest's readiness line, against bare qemu started with
 * the very argv the driver builds, reaching the same line. Rounds alternate which goes first. Blixard's
 * VM runs jailed with passt (the node's default); bare qemu runs as root with qemu's own slirp, so the
 * ratio includes the whole cost of the jail and of passt.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVmSpec } from "../core/vm-spec.js";
import { detectAccel } from "../drivers/qemu/accel.js";
import { hostTscKhz } from "../drivers/qemu/host-tsc.js";
import { buildQemuArgs } from "../drivers/qemu/qemu-args.js";
import { vmPaths } from "../drivers/qemu/vm-paths.js";
import { BenchNode, waitFor } from "./bench-node.js";

const READY = /BLIXARD-READY/;

export interface StartOverhead {
  bareMs: number[];
  blixardMs: number[];
  /** The same start on a node with `--isolation none`: what the jail itself adds is the difference. */
  unjailedMs: number[];
  /**
   * From the start (the spawn of the CLI, or of bare qemu) to qemu's pidfile, which qemu writes before
   * the guest runs: what Blixard adds before the boot, without the boot's own spread.
   */
  bareSpawnMs: number[];
  blixardSpawnMs: number[];
}

/** Milliseconds from `wallStart` (Date.now()) to the pidfile's mtime, NaN when there is none. */
function toPidfile(pidfile: string, wallStart: number): number {
  return existsSync(pidfile) ? statSync(pidfile).mtimeMs - wallStart : Number.NaN;
}

function logSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/**
 * Whether the readiness line is in `file` past byte `offset`. Only the bytes appended since the start
 * are read: the node's console log keeps every earlier boot, and reading it whole every 20 ms (as this
 * bench once did) cost the Blixard side CPU that bare qemu's fresh log never did, more each round.
 */
function readyAfter(file: string, offset: number): boolean {
  if (!existsSync(file)) return false;
  const fd = openSync(file, "r");
  try {
    const size = statSync(file).size;
    // A log rotated since the start begins again at 0; what it holds is all new.
    const from = size < offset ? 0 : offset;
    if (size === from) return false;
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    return READY.test(buf.toString("latin1"));
  } finally {
    closeSync(fd);
  }
}

async function bareQemu(kernel: string, initrd: string, spawnMs: number[]): Promise<number> {
  const vmsDir = mkdtempSync(join(tmpdir(), "blixard-bare-"));
  try {
    const paths = vmPaths(vmsDir, "bare");
    mkdirSync(paths.stateDir, { recursive: true });
    const spec = parseVmSpec({ name: "bare", kernel, initrd });
    const accel = detectAccel("auto").accel;
    const argv = buildQemuArgs("bare", spec, paths, accel, {
      ...(accel === "tcg" ? { tscKhz: hostTscKhz() } : {}),
      netdev: "user,id=net0",
    });
    const wallStart = Date.now();
    const t0 = performance.now();
    const qemu = spawn("qemu-system-x86_64", argv, { stdio: "ignore" });
    const exited = new Promise((r) => qemu.once("exit", r));
    await waitFor("bare qemu readiness", () => readyAfter(paths.consoleLog, 0), 120_000);
    const ms = performance.now() - t0;
    spawnMs.push(toPidfile(paths.pidfile, wallStart));
    qemu.kill("SIGKILL");
    await exited;
    return ms;
  } finally {
    rmSync(vmsDir, { recursive: true, force: true });
  }
}

async function blixardStart(node: BenchNode, name: string, spawnMs?: number[]): Promise<number> {
  const log = join(node.dataDir, "vms", name, "console.log");
  const before = logSize(log);
  const wallStart = Date.now();
  const t0 = performance.now();
  node.cli("vm", "start", name, "--no-wait");
  await waitFor("blixard VM readiness", () => readyAfter(log, before), 120_000);
  const ms = performance.now() - t0;
  spawnMs?.push(toPidfile(join(node.dataDir, "vms", name, "qemu.pid"), wallStart));
  node.cli("vm", "stop", name);
  return ms;
}

export async function measureStartOverhead(
  kernel: string,
  initrd: string,
  rounds: number,
): Promise<StartOverhead> {
  const node = new BenchNode();
  const unjailed = new BenchNode();
  const result: StartOverhead = {
    bareMs: [],
    blixardMs: [],
    unjailedMs: [],
    bareSpawnMs: [],
    blixardSpawnMs: [],
  };
  try {
    await node.start();
    await unjailed.start(["--isolation", "none"]);
    node.cli("vm", "create", "bench", "--kernel", kernel, "--initrd", initrd);
    unjailed.cli("vm", "create", "bench", "--kernel", kernel, "--initrd", initrd);
    const steps = [
      async () => result.bareMs.push(await bareQemu(kernel, initrd, result.bareSpawnMs)),
      async () => result.blixardMs.push(await blixardStart(node, "bench", result.blixardSpawnMs)),
      async () => result.unjailedMs.push(await blixardStart(unjailed, "bench")),
    ];
    for (let i = 0; i < rounds; i++) {
      // Each round starts with a different one of the three, so none always goes first.
      for (let j = 0; j < steps.length; j++) await steps[(i + j) % steps.length]!();
      process.stderr.write(`  start round ${i + 1}/${rounds}\n`);
    }
  } finally {
    await node.stop();
    await unjailed.stop();
  }
  return result;
}
