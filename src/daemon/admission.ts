/** Host checks on a parsed spec: the files it names must exist and be readable regular files. */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import type { FieldViolation } from "../core/errors.js";
import type { VmSpec } from "../core/vm-spec.js";

export async function checkHostFiles(spec: VmSpec): Promise<FieldViolation[]> {
  const files: [string, string | undefined][] = [
    ["spec.kernel", spec.kernel],
    ["spec.initrd", spec.initrd],
    ["spec.disk", spec.disk],
  ];
  const violations: FieldViolation[] = [];
  for (const [field, path] of files) {
    if (path === undefined) continue;
    const problem = await fileProblem(path);
    if (problem) violations.push({ field, message: `${path} ${problem}` });
  }
  return violations;
}

async function fileProblem(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return "is not a regular file";
    await access(path, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "does not exist on this node";
    if (code === "EACCES") return "is not readable by the blixard node";
    return `cannot be read (${code ?? String(err)})`;
  }
}
