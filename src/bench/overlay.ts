/**
 * The host side of bridge mode (src/net/), measured in a network namespace of its own: making and
 * re-converging the bridge and the VXLAN device, setting 50 VXLAN peers, and applying the node's
 * nftables tables with 0 to 250 VMs' anti-spoofing rules (re-applied at every lease change). The
 * baseline is the same ruleset without VMs. The namespace is removed by its name at the end.
 */
import { execFileSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { macForAddress, tapForAddress } from "../core/vm-network.js";
import { ensureBridge } from "../net/bridge.js";
import { HostTools } from "../net/host-tools.js";
import { buildRuleset } from "../net/nft-ruleset.js";
import { applyRuleset } from "../net/nftables.js";
import { ensureVxlan, setVxlanPeers } from "../net/vxlan.js";

export interface OverlayFigures {
  firstUpMs: number[];
  convergeMs: number[];
  peersMs: number[];
  peersUnchangedMs: number[];
  /** Apply times by number of VMs. */
  rulesMs: Map<number, number[]>;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const began = performance.now();
  await fn();
  return performance.now() - began;
}

export async function measureOverlay(rounds: number): Promise<OverlayFigures> {
  const ns = `blxbench-ovl-${process.pid.toString(36)}`;
  const tools = new HostTools(ns);
  const bridge = { name: "blxbr0", address: "10.88.0.1", prefixLength: 16, mtu: 1450 };
  const vxlan = { name: "blxvx0", vni: 4242, local: "10.0.0.1", port: 4789, bridge: "blxbr0", mtu: 1450 };
  const peers = Array.from({ length: 50 }, (_, i) => `10.0.1.${i + 1}`);
  const figures: OverlayFigures = {
    firstUpMs: [],
    convergeMs: [],
    peersMs: [],
    peersUnchangedMs: [],
    rulesMs: new Map(),
  };
  execFileSync("ip", ["netns", "add", ns]);
  try {
    for (let r = 0; r < rounds; r++) {
      await tools.run("ip", ["link", "del", "blxvx0"], { okStderr: /Cannot find device/ });
      await tools.run("ip", ["link", "del", "blxbr0"], { okStderr: /Cannot find device/ });
      figures.firstUpMs.push(
        await timed(async () => {
          await ensureBridge(tools, bridge);
          await ensureVxlan(tools, vxlan);
        }),
      );
      figures.convergeMs.push(
        await timed(async () => {
          await ensureBridge(tools, bridge);
          await ensureVxlan(tools, vxlan);
        }),
      );
      figures.peersMs.push(await timed(() => setVxlanPeers(tools, "blxvx0", peers)));
      figures.peersUnchangedMs.push(await timed(() => setVxlanPeers(tools, "blxvx0", peers)));
    }
    for (const vms of [0, 10, 100, 250]) {
      const guests = Array.from({ length: vms }, (_, i) => {
        const address = `10.88.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;
        return { tap: tapForAddress(address), mac: macForAddress(address), address };
      });
      const script = buildRuleset({
        bridge: "blxbr0",
        vxlan: "blxvx0",
        bridgeAddress: "10.88.0.1",
        vmCidr: "10.88.0.0/16",
        nodeAddresses: peers,
        tapPrefix: "blxt",
        guests,
      });
      const times: number[] = [];
      for (let r = 0; r < rounds; r++) times.push(await timed(() => applyRuleset(tools, script)));
      figures.rulesMs.set(vms, times);
    }
  } finally {
    execFileSync("ip", ["netns", "del", ns]);
  }
  return figures;
}
