import { defineConfig } from "vitest/config";

// Two projects: fast unit/contract tests next to the code, and e2e tests that boot real qemu VMs
// (TCG) through the built CLI and daemon. e2e runs files one at a time in one process: each boots
// VMs, and two cores cannot boot many TCG guests at once without timing out.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts"],
          exclude: ["src/**/*.integration.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "src/**/*.integration.test.ts"],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          pool: "forks",
          poolOptions: { forks: { singleFork: true } },
          globalSetup: ["test/e2e/global-setup.ts"],
          sequence: { concurrent: false },
        },
      },
    ],
  },
});
