/**
 * Preparing a microvm-nix VM: linking a prebuilt runner, or writing the flake and building its runner
 * with Nix (skipped while its content hash is unchanged), then copying the base disk image. Each
 * step also goes into the console log, so that `blixard vm logs -f` shows how a build goes.
 */
import { mkdir, realpath, rm } from "node:fs/promises";
import { defaultMicrovm, runnerSource } from "../../core/microvm-spec.js";
import type { VmSpec } from "../../core/vm-spec.js";
import type { ProgressFn } from "../../ports/vm-driver.js";
import { appendNoFollow } from "../shared/no-follow.js";
import { reclaim } from "./after-exit.js";
import { buildKey, cacheHit, readBuildRecord, writeBuildRecord } from "./build-cache.js";
import { ensureDiskImage } from "./disk-image.js";
import type { VmContext } from "./driver-options.js";
import { writeFlakeDir } from "./flake-dir.js";
import { hostNixSystem } from "./microvm-record.js";
import { nixBuildCommand, runNixBuild } from "./nix-build.js";
import { readRunner } from "./runner-layout.js";
import { relink } from "./runner-links.js";

export async function prepareRunner(ctx: VmContext, spec: VmSpec, report?: ProgressFn): Promise<void> {
  const { name, paths, opts } = ctx;
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  await reclaim(ctx);
  const progress: ProgressFn = (p) => {
    report?.(p);
    const percent = p.fraction === undefined ? "" : ` (${Math.round(p.fraction * 100)}%)`;
    void appendNoFollow(paths.consoleLog, `[blixard] ${p.step}${percent}\n`).catch(() => {});
  };
  const microvm = spec.microvm ?? defaultMicrovm();
  const source = runnerSource(name, microvm);
  if (source.kind === "runner") {
    progress({ step: "checking the prebuilt runner", fraction: 0.1 });
    await readRunner(source.path);
    await relink(paths.current, source.path);
  } else {
    progress({ step: "writing the flake", fraction: 0.05 });
    const base =
      source.kind === "flake"
        ? { kind: "flake" as const, ref: source.ref, config: source.config }
        : { kind: "generated" as const, system: opts.system ?? hostNixSystem() };
    await writeFlakeDir(paths.flakeDir, name, spec, microvm, base);
    const key = await buildKey(paths.flakeDir, source.kind === "flake" ? source.ref : undefined);
    if (await cacheHit(await readBuildRecord(paths.buildRecord), key, paths.current)) {
      progress({ step: "runner up to date (cached build)", fraction: 0.9 });
      ctx.log.info({ vm: name, key }, "runner up to date; not rebuilding");
    } else {
      await buildRunner(ctx, source.kind === "flake", key, progress);
    }
  }
  if (spec.disk) {
    progress({ step: "copying the base disk image", fraction: 0.95 });
    const binary = opts.qemuImgBinary ?? "qemu-img";
    if (await ensureDiskImage(binary, spec.disk, paths.diskImage))
      ctx.log.info({ vm: name, base: spec.disk, image: paths.diskImage }, "disk image copied");
  }
  progress({ step: "prepared", fraction: 1 });
}

async function buildRunner(ctx: VmContext, userFlake: boolean, key: string, progress: ProgressFn) {
  const { name, paths, opts, clock } = ctx;
  // The lock of a user's flake is taken afresh, so the build sees that flake as it is now (its own
  // flake.lock pins its inputs). A generated flake keeps its lock: the nixpkgs of the first build.
  if (userFlake) await rm(`${paths.flakeDir}/flake.lock`, { force: true });
  const command = nixBuildCommand(opts.nixBinary ?? "nix", paths.flakeDir, name, paths.current);
  progress({ step: "building the runner with nix", fraction: 0.1 });
  const began = clock.now();
  await runNixBuild({
    command,
    cwd: paths.stateDir,
    logFile: paths.consoleLog,
    timeoutMs: opts.buildTimeoutMs ?? 2 * 60 * 60_000,
    vm: name,
    clock,
    progress,
  });
  const runner = await realpath(paths.current);
  await readRunner(runner);
  await writeBuildRecord(paths.buildRecord, { key, runner });
  ctx.log.info({ vm: name, runner, ms: clock.now() - began }, "runner built");
}
