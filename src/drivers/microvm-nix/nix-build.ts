/**
 * Running `nix build` for a VM's runner: the exact command (pure, so that tests pin it), and a run
 * that streams nix's output into the VM's console log (so `blixard vm logs` shows the build) and
 * turns it into progress. nix never sees a shell: the command is an argv array.
 */
import { spawn } from "node:child_process";
import { appendFile } from "node:fs/promises";
import { BlixardError } from "../../core/errors.js";
import type { Clock } from "../../ports/clock.js";
import type { ProgressFn } from "../../ports/vm-driver.js";
import { fileSize, readSince } from "../shared/console-log.js";
import { BuildProgress } from "./build-progress.js";
import { runnerAttr } from "./flake-gen.js";

export interface NixCommand {
  binary: string;
  argv: string[];
}

/**
 * `nix build path:<flakeDir>#nixosConfigurations.<name>.config.microvm.declaredRunner
 * --out-link <outLink>`: the out-link is also a GC root, so the runner survives a garbage collection
 * for as long as the VM exists.
 */
export function nixBuildCommand(nix: string, flakeDir: string, name: string, outLink: string): NixCommand {
  return {
    binary: nix,
    argv: [
      // Flakes and the nix command are still experimental features in Nix; enabling them here keeps
      // nodes from needing a nix.conf change.
      ...["--extra-experimental-features", "nix-command flakes"],
      "build",
      `path:${flakeDir}#${runnerAttr(name)}`,
      ...["--out-link", outLink],
      // Build logs (-L) in the output, so that they reach the console log.
      "--print-build-logs",
    ],
  };
}

export interface BuildRun {
  command: NixCommand;
  cwd: string;
  /** The console log the output is appended to. */
  logFile: string;
  timeoutMs: number;
  progress?: ProgressFn;
  vm: string;
  clock: Clock;
}

/** Runs the build; throws what to do when nix is missing or the build fails. */
export async function runNixBuild(run: BuildRun): Promise<void> {
  const { command } = run;
  const started = await fileSize(run.logFile);
  await appendFile(run.logFile, `[blixard] ${command.binary} ${command.argv.join(" ")}\n`, { mode: 0o600 });
  const progress = new BuildProgress();
  const child = spawn(command.binary, command.argv, { cwd: run.cwd, stdio: ["ignore", "pipe", "pipe"] });
  // Appends are chained so that lines reach the log in the order nix wrote them.
  let writes = Promise.resolve();
  let partial = "";
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8");
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    if (lines.length === 0) return;
    for (const line of lines) {
      const step = progress.feed(line);
      if (step) run.progress?.(step);
    }
    writes = writes.then(() => appendFile(run.logFile, `${lines.join("\n")}\n`));
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const timer = run.clock.setTimeout(() => child.kill("SIGTERM"), run.timeoutMs);
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error>(
    (resolve) => {
      child.once("error", resolve);
      child.once("close", (code, signal) => resolve({ code, signal }));
    },
  );
  timer.cancel();
  if (partial !== "") writes = writes.then(() => appendFile(run.logFile, `${partial}\n`));
  await writes;
  if (outcome instanceof Error) {
    const missing = (outcome as NodeJS.ErrnoException).code === "ENOENT";
    await appendFile(run.logFile, `[blixard] cannot run ${command.binary}: ${outcome.message}\n`);
    throw new BlixardError(
      "FAILED_PRECONDITION",
      missing
        ? `cannot build VM ${run.vm}: ${command.binary} is not installed on this node (or not on the blixard node's PATH); install Nix (https://nixos.org/download), or build the runner elsewhere and give it with --runner DIR`
        : `cannot build VM ${run.vm}: ${command.binary} cannot be run: ${outcome.message}`,
      { cause: outcome },
    );
  }
  if (outcome.code === 0) {
    await appendFile(run.logFile, "[blixard] build finished\n");
    return;
  }
  const why = outcome.signal ? `was killed by ${outcome.signal}` : `exited with ${outcome.code}`;
  await appendFile(run.logFile, `[blixard] build failed: nix ${why}\n`);
  const output = await readSince(run.logFile, started, 64 * 1024);
  throw new BlixardError(
    "DRIVER_FAILED",
    `nix build for VM ${run.vm} failed (nix ${why}${outcome.signal === "SIGTERM" ? ` after the ${run.timeoutMs / 1000} s build timeout` : ""}): ${errorLines(output)}; see the whole build log with: blixard vm logs ${run.vm}`,
  );
}

/** The lines of nix's output that say what went wrong, or its last lines. */
export function errorLines(output: string): string {
  const lines = output.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("[blixard]"));
  const first = lines.findIndex((l) => /^error\b/.test(l.trim()));
  const chosen = first >= 0 ? lines.slice(first, first + 6) : lines.slice(-6);
  return chosen.map((l) => l.trim()).join(" | ") || "nix printed nothing";
}
