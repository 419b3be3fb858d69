/**
 * Integration test: the real `nix build` step, on a flake that needs no nixpkgs (which this machine
 * cannot fetch). The user's flake stands in for a NixOS configuration: its `extendModules` returns a
 * config whose microvm.declaredRunner is a derivation, built with /bin/sh, that writes the runner
 * scripts of testing/microvm-runner.ts and keeps the module Blixard passed in. So the wrapper flake,
 * its lock, the out-link, the build log in the console log, the cache and the supervision of the
 * built runner are all exercised for real. Skipped, with the reason, where nix cannot build here.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isBlixardError } from "../../core/errors.js";
import { parseVmSpec } from "../../core/vm-spec.js";
import { systemClock } from "../../platform/system-clock.js";
import { silentLogger } from "../../ports/logger.js";
import { writeRunnerFixture } from "../../testing/microvm-runner.js";
import { imageDir } from "../../testing/test-image.js";
import { hostTscKhz } from "../qemu/host-tsc.js";
import { isVmProcess } from "../shared/process-probe.js";
import { MicrovmNixDriver } from "./microvm-nix-driver.js";
import { nixString } from "./nix-expr.js";

const root = mkdtempSync(join(tmpdir(), "blixard-nix-"));
const NIX_ENV = { ...process.env, NIX_CONFIG: "substituters =" };

/** Why nix cannot build a trivial flake here, or undefined when it can. */
function nixProblem(): string | undefined {
  const dir = join(root, "probe");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "flake.nix"),
    `{ outputs = { self }: { probe = derivation { name = "probe"; system = "${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; }; }; }`,
  );
  const res = spawnSync(
    "nix",
    ["--extra-experimental-features", "nix-command flakes", "build", `path:${dir}#probe`, "--no-link"],
    { encoding: "utf8", env: NIX_ENV, timeout: 120_000 },
  );
  if (res.error) return `nix cannot be run: ${res.error.message}`;
  return res.status === 0
    ? undefined
    : `nix cannot build a trivial flake here: ${res.stderr.trim().slice(-300)}`;
}

const problem = nixProblem();
/** The reason for a skip is part of the suite's name, so the test report shows it. */
const suite = `the real nix build of a microvm-nix VM${problem ? ` (skipped: ${problem})` : ""}`;

/** The user's flake: nixosConfigurations.api without nixpkgs, its runner built from plain files. */
function writeUserFlake(dir: string, runnerDir: string, comment: string): void {
  const file = (name: string) => nixString(readFileSync(join(runnerDir, "bin", name), "utf8"));
  writeFileSync(
    join(dir, "flake.nix"),
    `# ${comment}
{
  outputs = { self }: {
    nixosConfigurations.api.extendModules = { modules }: {
      config.microvm.declaredRunner = derivation {
        name = "microvm-qemu-api";
        system = "${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux";
        builder = "/bin/sh";
        # Unique to this run, so that the store never has this runner already and nix really builds.
        nonce = ${nixString(root)};
        run = ${file("microvm-run")};
        shutdown = ${file("microvm-shutdown")};
        blixardModule = builtins.readFile (builtins.head modules);
        args = [ "-c" ''
          echo building the test runner
          /bin/mkdir -p $out/bin $out/share/microvm
          printf '%s' "$run" > $out/bin/microvm-run
          printf '%s' "$shutdown" > $out/bin/microvm-shutdown
          /bin/chmod +x $out/bin/microvm-run $out/bin/microvm-shutdown
          printf '%s' "$blixardModule" > $out/share/microvm/blixard.nix
        '' ];
      };
    };
  };
}
`,
  );
}

describe.skipIf(problem !== undefined)(suite, () => {
  const vmsDir = join(root, "vms");
  const userFlake = join(root, "user-flake");
  let driver: MicrovmNixDriver;
  let savedNixConfig: string | undefined;

  beforeAll(() => {
    savedNixConfig = process.env["NIX_CONFIG"];
    // Nothing to substitute from without a network; asking cache.nixos.org only adds retries.
    process.env["NIX_CONFIG"] = "substituters =";
    mkdirSync(userFlake, { recursive: true });
    const runnerDir = writeRunnerFixture({
      dir: join(root, "scripts"),
      name: "web",
      kernel: join(imageDir(), "vmlinuz"),
      initrd: join(imageDir(), "initrd.img"),
      tscKhz: hostTscKhz(),
      qemu: spawnSync("sh", ["-c", "command -v qemu-system-x86_64"], { encoding: "utf8" }).stdout.trim(),
    });
    writeUserFlake(userFlake, runnerDir, "first");
    driver = new MicrovmNixDriver({ vmsDir, logger: silentLogger, clock: systemClock, settleMs: 500 });
  });

  afterAll(() => {
    if (savedNixConfig === undefined) delete process.env["NIX_CONFIG"];
    else process.env["NIX_CONFIG"] = savedNixConfig;
    rmSync(root, { recursive: true, force: true });
  });

  const spec = parseVmSpec({
    name: "web",
    driver: "microvm-nix",
    vcpus: 1,
    memory: 256,
    microvm: { flake: `path:${userFlake}#api` },
  });
  const consoleLog = () => readFileSync(join(vmsDir, "web", "console.log"), "utf8");
  const builds = () =>
    consoleLog()
      .split("\n")
      .filter((l) => l.startsWith("[blixard] nix ")).length;

  it("builds the runner into the current out-link, with the build log in the console log", async () => {
    const steps: string[] = [];
    await driver.prepare("web", spec, (p) => steps.push(p.step));
    const current = readlinkSync(join(vmsDir, "web", "current"));
    expect(current).toMatch(/^\/nix\/store\/[0-9a-z]{32}-microvm-qemu-api$/);
    expect(consoleLog()).toContain(
      `build path:${join(vmsDir, "web", "flake")}#nixosConfigurations.web.config.microvm.declaredRunner`,
    );
    expect(consoleLog()).toContain("building the test runner");
    expect(steps).toContain("building microvm-qemu-api");
    // …and the steps are in the console log too, for `blixard vm logs -f`.
    expect(consoleLog()).toMatch(/\[blixard\] building microvm-qemu-api \(\d+%\)/);
    // Blixard's module reached the user's configuration through extendModules.
    const module = readFileSync(join(current, "share", "microvm", "blixard.nix"), "utf8");
    expect(module).toContain("vcpu = lib.mkForce 1;");
    expect(module).toContain('socket = lib.mkForce "control.socket";');
  });

  it("does not build again while nothing that goes into the runner changed", async () => {
    const steps: string[] = [];
    await driver.prepare("web", spec, (p) => steps.push(p.step));
    expect(steps).toContain("runner up to date (cached build)");
    expect(builds()).toBe(1);
  });

  it("builds again when the user's flake changed", async () => {
    const flake = readFileSync(join(userFlake, "flake.nix"), "utf8");
    writeFileSync(join(userFlake, "flake.nix"), flake.replace("# first", "# second"));
    await driver.prepare("web", spec);
    expect(builds()).toBe(2);
  });

  it("boots the guest from the runner nix built and stops it", async () => {
    const offset = await driver.logSize("web");
    const { pid } = await driver.start("web", spec);
    try {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 120_000);
      let text = "";
      for await (const chunk of driver.followLogs("web", offset, controller.signal)) {
        text += chunk;
        if (text.includes("BLIXARD-READY")) break;
      }
      clearTimeout(timer);
      controller.abort();
      expect(text).toContain("BLIXARD-READY");
      expect(
        await driver.stop("web", { gracefulTimeoutMs: 30_000, quitTimeoutMs: 5_000, killTimeoutMs: 5_000 }),
      ).toBe("graceful");
    } finally {
      if (await isVmProcess(pid, join(vmsDir, "web"))) process.kill(pid, "SIGKILL");
    }
  });

  it("fails with nix's error when the flake does not evaluate", async () => {
    const broken = parseVmSpec({
      name: "broken",
      driver: "microvm-nix",
      microvm: { flake: `path:${userFlake}#nosuch` },
    });
    const err = await driver.prepare("broken", broken).catch((e: unknown) => e);
    expect(isBlixardError(err, "DRIVER_FAILED")).toBe(true);
    expect((err as Error).message).toMatch(
      /nix build for VM broken failed \(nix exited with 1\): error: .*nosuch.*blixard vm logs broken/,
    );
  });
});
