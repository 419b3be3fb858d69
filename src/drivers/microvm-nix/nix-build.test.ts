import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import { systemClock } from "../../platform/system-clock.js";
import type { Progress } from "../../ports/vm-driver.js";
import { BuildProgress, storeName } from "./build-progress.js";
import { errorLines, nixBuildCommand, runNixBuild } from "./nix-build.js";

const dir = mkdtempSync(join(tmpdir(), "blixard-nix-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeNix(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe("the nix build command", () => {
  it("builds the VM's declaredRunner from the flake in its state dir into the current out-link", () => {
    expect(
      nixBuildCommand("nix", "/var/lib/blixard/vms/web/flake", "web", "/var/lib/blixard/vms/web/current"),
    ).toEqual({
      binary: "nix",
      argv: [
        "--extra-experimental-features",
        "nix-command flakes",
        "build",
        "path:/var/lib/blixard/vms/web/flake#nixosConfigurations.web.config.microvm.declaredRunner",
        "--out-link",
        "/var/lib/blixard/vms/web/current",
        "--print-build-logs",
      ],
    });
  });
});

describe("build progress", () => {
  it("counts what nix said it would build or fetch, and names each step", () => {
    const progress = new BuildProgress();
    const seen = [
      "these 2 derivations will be built:",
      "  /nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-erofs.drv",
      "these 3 paths will be fetched (10.0 MiB download, 50.0 MiB unpacked):",
      "copying path '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-linux-6.6' from 'https://cache.nixos.org'...",
      "building '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-erofs.drv'...",
      "erofs> mkfs.erofs 1.7",
      "building '/nix/store/cccccccccccccccccccccccccccccccc-microvm-qemu-web.drv'...",
    ]
      .map((line) => progress.feed(line))
      .filter((p): p is Progress => p !== undefined);
    expect(seen.map((p) => p.step)).toEqual([
      "nix: 2 to build or fetch",
      "nix: 5 to build or fetch",
      "fetching linux-6.6",
      "building erofs",
      "building microvm-qemu-web",
    ]);
    const fractions = seen.map((p) => p.fraction ?? 0);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(fractions.at(-1)).toBeLessThan(0.9);
  });

  it("understands the singular forms", () => {
    expect(new BuildProgress().feed("this derivation will be built:")?.step).toBe("nix: 1 to build or fetch");
    expect(storeName("/nix/store/cccccccccccccccccccccccccccccccc-microvm-qemu-web.drv")).toBe(
      "microvm-qemu-web",
    );
  });
});

describe("running nix build", () => {
  const run = (binary: string, log: string, progress?: (p: Progress) => void) =>
    runNixBuild({
      command: { binary, argv: ["build", "x"] },
      cwd: dir,
      logFile: join(dir, log),
      timeoutMs: 10_000,
      vm: "web",
      clock: systemClock,
      ...(progress ? { progress } : {}),
    });

  it("streams nix's output into the console log and reports progress", async () => {
    const nix = fakeNix(
      "nix-ok",
      `echo "this derivation will be built:" >&2\necho "building '/nix/store/cccccccccccccccccccccccccccccccc-microvm-qemu-web.drv'..." >&2\necho "microvm-qemu-web> done"`,
    );
    const steps: string[] = [];
    await run(nix, "ok.log", (p) => steps.push(p.step));
    const log = readFileSync(join(dir, "ok.log"), "utf8");
    expect(log).toContain(`[blixard] ${nix} build x\n`);
    expect(log).toContain("microvm-qemu-web> done\n");
    expect(log).toMatch(/\[blixard\] build finished\n$/);
    expect(steps).toEqual(["nix: 1 to build or fetch", "building microvm-qemu-web"]);
  });

  it("says to install Nix or give a prebuilt runner when nix is missing", async () => {
    const err = await run(join(dir, "no-such-nix"), "missing.log").catch((e: unknown) => e);
    expect(isBlixardError(err, "FAILED_PRECONDITION")).toBe(true);
    expect((err as Error).message).toMatch(/is not installed on this node .*install Nix .*--runner DIR/);
  });

  it("quotes nix's error and points at vm logs when the build fails", async () => {
    const nix = fakeNix(
      "nix-fail",
      `echo "evaluating..." >&2\necho "error: attribute 'declaredRunner' missing" >&2\necho "       at /nix/store/x/flake.nix:3:5" >&2\nexit 1`,
    );
    const err = await run(nix, "fail.log").catch((e: unknown) => e);
    expect(isBlixardError(err, "DRIVER_FAILED")).toBe(true);
    expect((err as Error).message).toMatch(
      /nix build for VM web failed \(nix exited with 1\): error: attribute 'declaredRunner' missing \| at \/nix\/store\/x\/flake.nix:3:5; see the whole build log with: blixard vm logs web/,
    );
    expect(readFileSync(join(dir, "fail.log"), "utf8")).toContain(
      "[blixard] build failed: nix exited with 1",
    );
  });

  it("kills a build that outlives its timeout", async () => {
    const nix = fakeNix("nix-slow", "exec sleep 30");
    const err = await runNixBuild({
      command: { binary: nix, argv: [] },
      cwd: dir,
      logFile: join(dir, "slow.log"),
      timeoutMs: 300,
      vm: "web",
      clock: systemClock,
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/was killed by SIGTERM after the 0.3 s build timeout/);
  });

  it("keeps the last lines when nix names no error", () => {
    expect(errorLines("a\nb\n[blixard] x\n")).toBe("a | b");
  });
});
