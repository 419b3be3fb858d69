/**
 * The VmDriver contract suite, Hono-style as the Store's: each driver's test file calls
 * runDriverContract with a harness, and every driver (the in-memory one, qemu under TCG, microvm-nix)
 * is held to the same semantics (see ports/vm-driver.ts). The cases live in contract/, one file per
 * area; the ones with a guest boot it once per case, so real drivers stay cheap to run.
 */
import { describe } from "vitest";
import { type DriverHarness, useDriverHarness } from "./contract/harness.contract.js";
import { lifecycleContract } from "./contract/lifecycle.contract.js";
import { noStateContract } from "./contract/no-state.contract.js";
import { restartContract } from "./contract/restart.contract.js";

export type { DriverHarness } from "./contract/harness.contract.js";

export function runDriverContract(label: string, harness: () => Promise<DriverHarness>): void {
  describe(`VmDriver contract: ${label}`, () => {
    const c = useDriverHarness(harness);
    noStateContract(c);
    lifecycleContract(c);
    restartContract(c);
  });
}
