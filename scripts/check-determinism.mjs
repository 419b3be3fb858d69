#!/usr/bin/env node
// Guards determinism: code the simulator runs (core, ports, state, the memory store and driver, group commit, agent, control, api) must take time and
// randomness from the injected Clock and Random, never from the wall clock or global randomness.
// Run by `npm run lint`. It checks its own patterns against known samples first, so it cannot pass
// by matching nothing.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOTS = [
  "src/core",
  "src/ports",
  "src/state",
  "src/store/memory",
  "src/store/group-commit",
  "src/drivers/memory",
  "src/agent",
  "src/control",
  "src/node",
  "src/api",
];
const FORBIDDEN = [
  [/\bDate\.now\(/, "Date.now(): use the injected Clock"],
  [/\bnew Date\(\s*\)/, "new Date(): use new Date(clock.now())"],
  [/\bMath\.random\(/, "Math.random(): use the injected Random"],
  [/\bperformance\.now\(/, "performance.now(): use the injected Clock"],
  [/(?<![.\w])(setTimeout|setInterval|setImmediate)\(/, "a bare timer: use clock.setTimeout / clock.sleep"],
  [/\brandomUUID\(|\brandomBytes\(|\brandomInt\(/, "crypto randomness: use the injected Random"],
];

const bad = ["Date.now()", "new Date()", "Math.random()", "setTimeout(f, 1)", "crypto.randomUUID()", "performance.now()"];
const good = ["this.clock.setTimeout(f, 1)", "new Date(now).toISOString()", "random.next()", "clock.now()"];
const hits = (line) => FORBIDDEN.filter(([re]) => re.test(line));
for (const line of bad) if (hits(line).length === 0) throw new Error(`self-check: "${line}" should be flagged`);
for (const line of good) if (hits(line).length > 0) throw new Error(`self-check: "${line}" should pass`);

function* files(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (path.endsWith(".ts") && !path.endsWith(".test.ts") && !path.endsWith(".contract.ts")) yield path;
  }
}

const problems = [];
for (const root of ROOTS) {
  for (const file of files(root)) {
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        // Comments, and method signatures of the Clock port itself, are not calls.
        if (/^\s*(\/\/|\*)/.test(line) || /^\s*(setTimeout|setInterval|setImmediate)\(.*\)\s*:/.test(line)) return;
        for (const [, why] of hits(line)) problems.push(`${relative(".", file)}:${i + 1}: ${why}`);
      });
  }
}
if (problems.length > 0) {
  console.error(`determinism guard: ${problems.length} problem(s)\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`determinism guard: ${ROOTS.join(", ")} read no wall clock or global randomness`);
