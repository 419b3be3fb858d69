#!/usr/bin/env bash
# Everything from a fresh machine to every test passed: system packages, npm dependencies, the build,
# type-check, lint, the layering check, unit and contract tests, and e2e tests that boot real qemu VMs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
# `npm install`, not `npm ci`: the lock records no entries for other platforms' optional binaries
# (biome, rollup, buf) when the registry mirror lacks them, and `npm ci` then refuses the lock.
npm install --no-audit --no-fund
npm test
# The deterministic simulator over random seeds; a failure prints the command that reproduces it.
npm run sim --silent -- --seeds 200

# One closing line that counts every test run, unit and e2e together.
node -e '
const fs = require("node:fs");
let passed = 0, failed = 0, skipped = 0;
for (const f of ["unit", "e2e"]) {
  const r = JSON.parse(fs.readFileSync(`.test-results/${f}.json`, "utf8"));
  passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
'
