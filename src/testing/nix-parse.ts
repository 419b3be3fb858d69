/**
 * Test support: parses Nix text with `nix-instantiate --parse` (Debian's nix-bin), which checks the
 * syntax without evaluating, so it needs neither nixpkgs nor the network. Used by the tests of the
 * generated flakes and of the repository's own flake.nix and NixOS module.
 */
import { spawnSync } from "node:child_process";

/** Whether nix-instantiate can be run; in CI (CI=true) its absence must fail the tests instead. */
export function nixInstantiateAvailable(): boolean {
  const found = spawnSync("nix-instantiate", ["--version"], { encoding: "utf8" }).status === 0;
  if (!found && process.env["CI"] === "true") {
    throw new Error(
      "nix-instantiate is missing; CI installs it with scripts/install-system-deps.sh (nix-bin)",
    );
  }
  return found;
}

/** undefined when the text parses, else nix-instantiate's error. */
export function nixParseError(text: string): string | undefined {
  const res = spawnSync("nix-instantiate", ["--parse", "-"], {
    input: text,
    encoding: "utf8",
    timeout: 30_000,
  });
  if (res.error) throw res.error;
  return res.status === 0 ? undefined : res.stderr.trim();
}
