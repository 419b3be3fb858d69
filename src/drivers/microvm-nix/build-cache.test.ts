import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildKey, cacheHit, localFlakeDir } from "./build-cache.js";

const root = mkdtempSync(join(tmpdir(), "blixard-build-cache-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

describe("the build cache key", () => {
  it("changes with any file of the flake but not with nix's lock file", async () => {
    const flake = tree("a", { "flake.nix": "{ }", "modules/0-web.nix": "{ }" });
    const before = await buildKey(flake);
    writeFileSync(join(flake, "flake.lock"), "{}");
    expect(await buildKey(flake)).toBe(before);
    writeFileSync(join(flake, "modules/0-web.nix"), "{ services.nginx.enable = true; }");
    expect(await buildKey(flake)).not.toBe(before);
  });

  it("hashes a local user flake's tree, and a remote one by its reference", async () => {
    const flake = tree("b", { "flake.nix": "{ }" });
    const user = tree("user", { "flake.nix": "{ }", "hosts/web.nix": "{ }" });
    const local = await buildKey(flake, `path:${user}#web`);
    expect(await buildKey(flake, `${user}#web`)).not.toBe(await buildKey(flake));
    writeFileSync(join(user, "hosts/web.nix"), '{ networking.hostName = "web"; }');
    expect(await buildKey(flake, `path:${user}#web`)).not.toBe(local);
    expect(await buildKey(flake, "github:me/vms#web")).not.toBe(
      await buildKey(flake, "github:me/vms?ref=v2#web"),
    );
  });

  it("finds the directory of local flake references only", () => {
    expect(localFlakeDir("path:/srv/vms#web")).toBe("/srv/vms");
    expect(localFlakeDir("/srv/vms?dir=x#web")).toBe("/srv/vms");
    expect(localFlakeDir("git+file:///srv/vms#web")).toBe("/srv/vms");
    expect(localFlakeDir("github:me/vms#web")).toBeUndefined();
  });
});

describe("a cache hit", () => {
  it("needs the same key and the out-link still pointing at the recorded runner", async () => {
    const runner = tree("runner", { "bin/microvm-run": "#!/bin/sh\n" });
    const other = tree("other", { "bin/microvm-run": "#!/bin/sh\n" });
    const link = join(root, "current");
    symlinkSync(runner, link);
    expect(await cacheHit({ key: "k", runner }, "k", link)).toBe(true);
    expect(await cacheHit({ key: "k", runner }, "k2", link)).toBe(false);
    expect(await cacheHit({ key: "k", runner: other }, "k", link)).toBe(false);
    expect(await cacheHit(undefined, "k", link)).toBe(false);
    rmSync(runner, { recursive: true });
    expect(await cacheHit({ key: "k", runner }, "k", link)).toBe(false);
  });
});
