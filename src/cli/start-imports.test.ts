import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// What a module loads before any of its code runs: its static imports and theirs, after TypeScript
// has dropped the imports used only as types (as the build does). Dynamic import() is not followed:
// that is how actions load their work only when they run.
const SRC = resolve(import.meta.dirname, "..");

function staticImports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const found: string[] = [];
  for (const m of js.matchAll(/^\s*(?:import|export)\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/gm)) {
    found.push(m[1]!);
  }
  return found;
}

/** Every module `entry` loads statically: files under src/ (relative paths) and package names. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [resolve(SRC, entry)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = file.slice(SRC.length + 1);
    if (files.has(rel)) continue;
    files.add(rel);
    for (const spec of staticImports(file)) {
      if (spec.startsWith(".")) queue.push(join(dirname(file), spec).replace(/\.js$/, ".ts"));
      else if (!spec.startsWith("node:"))
        packages.add(
          spec
            .split("/")
            .slice(0, spec.startsWith("@") ? 2 : 1)
            .join("/"),
        );
    }
  }
  return { files, packages };
}

const heavy = (c: { files: Set<string>; packages: Set<string> }) => [
  ...[...c.packages].filter((p) => p !== "commander"),
  ...[...c.files].filter((f) => f.startsWith("gen/") || f === "cli/client.ts" || f === "cli/cli-error.ts"),
];

describe("the CLI's start-up stays light", () => {
  it("defines every command loading only commander (no Connect, protobuf, zod, YAML or the daemon)", () => {
    const c = closure("cli/program.ts");
    expect(c.files).toContain("cli/vm-commands.ts");
    expect(c.files).toContain("cli/node-command.ts");
    expect(heavy(c)).toEqual([]);
    expect([...c.files].filter((f) => f.startsWith("daemon/"))).toEqual([]);
  });

  it("sends `vm start|stop|restart|delete` without loading the Connect client or the descriptors", () => {
    const c = closure("cli/vm-lifecycle.ts");
    expect(c.files).toContain("cli/unary-json.ts");
    expect(heavy(c)).toEqual([]);
  });

  it("sees an eager import when there is one (the check itself can fail)", () => {
    const c = closure("cli/vm-actions.ts");
    expect(heavy(c)).toContain("@connectrpc/connect");
    expect(heavy(c)).toContain("cli/client.ts");
  });
});
