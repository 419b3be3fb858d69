/**
 * e2e prerequisites: the built CLI and the Debian guest image. The image build is cached and
 * idempotent, so a second run takes a second. Missing prerequisites fail loudly: an e2e suite that
 * skips itself would pass without testing anything.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { imageDir } from "../../src/testing/test-image.js";

export const REPO = resolve(import.meta.dirname, "../..");

export { imageDir };

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
