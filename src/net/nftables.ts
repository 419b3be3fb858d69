/**
 * Applies and removes the node's nftables tables through `nft -f -` (the script on stdin, one
 * transaction: either the whole script applies or nothing changes). The scripts come from
 * nft-ruleset.ts.
 */
import type { HostTools } from "./host-tools.js";
import { removalScript } from "./nft-ruleset.js";

export async function applyRuleset(tools: HostTools, script: string): Promise<void> {
  await tools.run("nft", ["-f", "-"], { input: script });
}

/** Removes `inet blixard` and `bridge blixard`; succeeds when they are absent. */
export async function removeTables(tools: HostTools): Promise<void> {
  await tools.run("nft", ["-f", "-"], { input: removalScript() });
}
