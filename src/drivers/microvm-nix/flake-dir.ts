/**
 * Writes the flake of a VM into its state dir: the generated files, and copies of the user's module
 * files (flakes evaluate purely and cannot import files outside their own tree). Files from an
 * earlier spec are removed; nix's flake.lock stays, so the inputs it pinned stay pinned.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { MicrovmSpec } from "../../core/microvm-spec.js";
import type { VmSpec } from "../../core/vm-spec.js";
import { checkReadableFile } from "../shared/input-files.js";
import { type FlakeBase, generateFlake } from "./flake-gen.js";

/** `0-web.nix`: the spec's order first, then a name nix and any file system accept. */
export function moduleFileName(index: number, path: string): string {
  const name = basename(path).replace(/[^A-Za-z0-9._-]/g, "_");
  return `${index}-${name.endsWith(".nix") ? name : `${name}.nix`}`;
}

export async function writeFlakeDir(
  flakeDir: string,
  name: string,
  spec: VmSpec,
  microvm: MicrovmSpec,
  base: FlakeBase,
): Promise<void> {
  const modules: { file: string; text: string }[] = [];
  for (const [i, path] of microvm.modules.entries()) {
    await checkReadableFile(`microvm.modules.${i}`, path);
    modules.push({ file: moduleFileName(i, path), text: await readFile(path, "utf8") });
  }
  const files = generateFlake({ name, spec, microvm, base, moduleFiles: modules.map((m) => m.file) });
  await mkdir(flakeDir, { recursive: true, mode: 0o700 });
  for (const stale of ["flake.nix", "blixard.nix", "inline.nix", "modules"]) {
    await rm(join(flakeDir, stale), { recursive: true, force: true });
  }
  for (const m of modules) files[`modules/${m.file}`] = m.text;
  for (const [file, text] of Object.entries(files)) {
    const path = join(flakeDir, file);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, text, { mode: 0o600 });
  }
}
