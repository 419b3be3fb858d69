/**
 * e2e prerequisites: the built CLI and the Debian guest image. The image build is cached and
 * idempotent, so a second run takes a second. Missing prerequisites fail loudly: an e2e suite that
 * skips itself would pass without testing anything.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "../..");

export function imageDir(): string {
  return (
    process.env["BLIXARD_TEST_IMAGE_DIR"] ??
    join(process.env["BLIXARD_CACHE_DIR"] ?? join(homedir(), ".cache", "blixard"), "test-image")
  );
}

export default function setup(): void {
  if (!existsSync(join(REPO, "dist/cli/main.js"))) {
    throw new Error("dist/cli/main.js is missing: run `npm run build` first (npm test does)");
  }
  for (const bin of ["qemu-system-x86_64", "qemu-img"]) {
    try {
      execFileSync("which", [bin], { stdio: "ignore" });
    } catch {
      throw new Error(`${bin} is not installed: run bash scripts/install-system-deps.sh`);
    }
  }
  execFileSync("bash", [join(REPO, "scripts/guest-image/build.sh"), imageDir()], { stdio: "inherit" });
}
