/**
 * Sets up what `--bridge-network on` needs before the node's loops start: the preconditions, the
 * node's bridge address (claimed once, kept across restarts), the overlay settings and the host
 * network adapter. dnsmasq's files live under /run, not in the data dir: dnsmasq re-reads them as an
 * unprivileged user, who must not enter the data dir (0700, or 0710 for the VMs' group).
 */
import { createHash } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
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
 * Where a node's dnsmasq keeps its files: one directory per data dir, under a parent that anyone may
 * pass through (/run/blixard is the jail's, closed to others).
 */
const DNSMASQ_PARENT = "/run/blixard-net";
export function dnsmasqDir(dataDir: string): string {
  return join(DNSMASQ_PARENT, createHash("sha256").update(dataDir).digest("hex").slice(0, 12));
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
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const d of [DNSMASQ_PARENT, dir]) await chmod(d, 0o755);
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
