/**
 * Layering rules from docs/architecture.md: imports point downward only.
 * core <- ports <- state <- services (agent, control, api) <- node (the one node composition);
 * ports <- adapters (store, drivers, discovery); all <- entry points (daemon, cli).
 * sim may use core, ports and services but never a production adapter.
 */
const layer = (name) => `^src/(${name})/`;
const ADAPTERS = "store|drivers|discovery|platform|net|volumes";
const SERVICES = "agent|control|api";

// Tests are wiring points too: a test may combine any layers, so the layer rules apply to production files.
const PRODUCTION = { pathNot: "\\.test\\.ts$" };

module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment: "core/ holds pure domain logic: no Node built-ins, no other layer (zod and re2js are pure and deterministic)",
      severity: "error",
      from: { path: layer("core") , pathNot: PRODUCTION.pathNot },
      to: { pathNot: [layer("core"), "(^|/)node_modules/(zod|re2js)/"] },
    },
    {
      name: "core-no-builtins",
      severity: "error",
      from: { path: layer("core") , pathNot: PRODUCTION.pathNot },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "ports-depend-on-core-only",
      severity: "error",
      from: { path: layer("ports") , pathNot: PRODUCTION.pathNot },
      to: { path: `^src/(?!core/|ports/)` },
    },
    {
      name: "state-depends-on-core-and-ports",
      comment: "state/ (typed collections and informers over the Store port) sits between ports and services",
      severity: "error",
      from: { path: layer("state"), pathNot: PRODUCTION.pathNot },
      to: { path: `^src/(?!core/|ports/|state/)` },
    },
    {
      name: "adapters-below-services",
      comment: "adapters implement ports; they never reach up into services or entry points",
      severity: "error",
      from: { path: layer(ADAPTERS) , pathNot: PRODUCTION.pathNot },
      to: { path: layer(`${SERVICES}|state|node|daemon|cli|sim|bench`) },
    },
    {
      name: "services-use-ports-not-adapters",
      comment: "services are written against ports; only daemon/ and sim/ wire adapters in",
      severity: "error",
      from: { path: layer(SERVICES) , pathNot: PRODUCTION.pathNot },
      to: { path: layer(`${ADAPTERS}|node|daemon|cli|sim|bench`) },
    },
    {
      name: "node-composes-services-over-ports",
      comment: "node/ is the one composition of a node's loops, used by daemon/, sim/ and bench/: it is written against ports, so the simulator runs it on simulated ones",
      severity: "error",
      from: { path: layer("node"), pathNot: PRODUCTION.pathNot },
      to: { path: layer(`${ADAPTERS}|daemon|cli|sim|bench`) },
    },
    {
      name: "sim-uses-no-production-adapters",
      comment: "the simulator runs on the in-memory store and driver (and the group-commit wrapper every node puts in front of a remote store), never on SQLite, etcd, qemu or the host",
      severity: "error",
      from: { path: layer("sim") , pathNot: PRODUCTION.pathNot },
      to: { path: layer(`${ADAPTERS}|daemon|cli|bench`), pathNot: ["^src/store/(memory|group-commit|shared)/", "^src/drivers/memory/"] },
    },
    {
      name: "drivers-share-through-shared",
      comment: "what several drivers use lives in drivers/shared/ (or jail/); a driver's folder (qemu/, microvm-nix/, memory/) is a leaf that only the composition (driver-set.ts, daemon/, bench/, sim/, tests) imports",
      severity: "error",
      from: { path: "^src/drivers/([^/]+)/", pathNot: PRODUCTION.pathNot },
      to: { path: "^src/drivers/(qemu|microvm-nix|memory)/", pathNot: "^src/drivers/$1/" },
    },
    {
      name: "memory-driver-is-for-tests-and-sim",
      comment: "the in-memory driver runs no VM: only tests, the simulator and benchmarks use it, never a node",
      severity: "error",
      from: { path: "^src/", pathNot: ["\\.test\\.ts$", "\\.contract\\.ts$", "^src/testing/", "^src/sim/", "^src/bench/", "^src/drivers/memory/"] },
      to: { path: "^src/drivers/memory/" },
    },
    {
      name: "daemon-not-cli",
      severity: "error",
      from: { path: layer("daemon") , pathNot: PRODUCTION.pathNot },
      to: { path: layer("cli") },
    },
    {
      name: "testing-is-for-tests",
      comment: "test doubles in testing/ are used by tests, benchmarks and the simulator, never by production code",
      severity: "error",
      from: { path: "^src/", pathNot: ["\\.test\\.ts$", "\\.contract\\.ts$", "^src/testing/", "^src/sim/", "^src/bench/"] },
      to: { path: layer("testing") },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
