/** Finding an executable on a PATH the way a shell would, for the checks of what a node can run. */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The first executable `name` on `path`, or undefined. */
export function findOnPath(name: string, path = process.env["PATH"] ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
