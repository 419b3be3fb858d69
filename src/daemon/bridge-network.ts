/**
 * Sets up what `--bridge-network on` needs before the node's loops start: the preconditions, the
 * node's bridge address (claimed once, kept across restarts), the overlay settings and the host
 * network adapter.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type ClusterNetwork, cidrOf } from "../core/cluster-network.js";
import { keys } from "../core/keys.js";
import type { NodeOverlay } from "../core/node-record.js";
import { nodeRecordCodec } from "../core/store-codecs.js";
import { LinuxHostNetwork } from "../net/host-network.js";
import { systemClock } from "../platform/system-clock.js";
import type { HostNetwork, OverlayConfig } from "../ports/host-network.js";
import type { Logger } from "../ports/logger.js";
import type { Store } from "../ports/store.js";
import type { AddressPool } from "../state/address-pool.js";
import { claimBridgeAddress } from "../state/bridge-address.js";
import { checkBridgePreconditions, hostBridgeFacts } from "./bridge-preconditions.js";

export interface BridgeNetworkSetup {
  host: HostNetwork;
  config: OverlayConfig;
  overlay: NodeOverlay;
}

/**
 * Where a node's dnsmasq keeps its config and lease file: in the data dir. The files it re-reads as
 * its unprivileged user (hosts, DHCP hosts) it keeps under /run itself (net/dnsmasq-process.ts).
 */
export function dnsmasqDir(dataDir: string): string {
  return join(dataDir, "net");
}

export async function prepareBridgeNetwork(args: {
  store: Store;
  nodeId: string;
  network: ClusterNetwork;
  pool: AddressPool;
  advertised: string;
  dataDir: string;
  logger: Logger;
}): Promise<BridgeNetworkSetup> {
  const vtep = checkBridgePreconditions(hostBridgeFacts(), args.advertised);
  const stored = await args.store.get(keys.node(args.nodeId));
  const decoded = stored ? nodeRecordCodec.decode(stored.value) : undefined;
  const previous = decoded?.ok ? decoded.value.overlay?.bridgeAddress : undefined;
  const bridgeAddress = await claimBridgeAddress(args.store, args.pool, args.nodeId, previous);
  const dir = dnsmasqDir(args.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const config: OverlayConfig = {
    bridgeAddress,
    prefixLength: cidrOf(args.network.vmCidr).prefix,
    vmCidr: args.network.vmCidr,
    domain: args.network.domain,
    vtep,
    vni: args.network.vni,
  };
  args.logger.info({ bridgeAddress, vtep, vmCidr: config.vmCidr }, "bridge networking on");
  return {
    host: new LinuxHostNetwork({ dir, clock: systemClock, logger: args.logger }),
    config,
    overlay: { vtep, bridgeAddress },
  };
}
