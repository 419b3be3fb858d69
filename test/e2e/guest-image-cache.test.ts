/**
 * The guest image build's cache key: a built image is reused only while every input is unchanged.
 * A copy of scripts/guest-image is built into a scratch directory, found up to date on a second run,
 * then one of its files/ scripts is changed: the next run must rebuild and the new initrd must carry
 * the change. Before files/ was part of the key, a cached image (CI, a shared cache) built before a
 * guest feature would have been reused silently without it.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { REPO } from "./global-setup.js";

describe("guest image build cache", () => {
  const dir = mkdtempSync(join(tmpdir(), "blixard-image-cache-"));
  const scripts = join(dir, "scripts");
  const out = join(dir, "out");
  cpSync(join(REPO, "scripts/guest-image"), scripts, { recursive: true });
  // The kernel .deb comes from the usual cache (read only once it is there), so no download.
  const build = () =>
    execFileSync("bash", [join(scripts, "build.sh"), out], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reuses an image only while build.sh, init.sh and files/ are unchanged", () => {
    build();
    const hash = JSON.parse(readFileSync(join(out, "image.json"), "utf8")).scriptHash as string;
    expect(build()).toContain("guest image up to date");

    const marker = `# cache-key-probe ${Date.now()}`;
    appendFileSync(join(scripts, "files", "probe-lib.sh"), `${marker}\n`);
    expect(build()).not.toContain("guest image up to date");
    expect(JSON.parse(readFileSync(join(out, "image.json"), "utf8")).scriptHash).not.toBe(hash);
    // The rebuilt initrd (an uncompressed newc cpio inside gzip) carries the changed file.
    expect(gunzipSync(readFileSync(join(out, "initrd.img"))).includes(Buffer.from(marker))).toBe(true);
  });
});
