/**
 * The node's VXLAN device (blxvx0), a port of its bridge, joining every node's bridge into one L2
 * segment over the underlay. No multicast and no learning: flooded frames (ARP, DHCP, broadcast) go to
 * every peer by head-end replication, one all-zeros FDB entry per peer node, kept in step with the
 * node registry by `setVxlanPeers` (as flannel's vxlan backend does). Unicast to a peer's VMs is
 * flooded the same way; the bridges learn MACs from the frames that come back.
 */
import { z } from "zod";
import { BlixardError } from "../core/errors.js";
import { type HostTools, NO_SUCH_DEVICE } from "./host-tools.js";
import { converge, deleteLink, type LinkInfo, linkKind, showLink } from "./links.js";
import { checkDeviceName, checkIpv4 } from "./net-names.js";

export interface VxlanSettings {
  name: string;
  vni: number;
  /** This node's underlay address: the source of its VXLAN packets. */
  local: string;
  /** UDP port, 4789 by IANA. */
  port: number;
  bridge: string;
  mtu: number;
}

const ALL_ZEROS = "00:00:00:00:00:00";

const fdbSchema = z.array(z.object({ mac: z.string(), dst: z.string().optional() }).passthrough());

function matches(link: LinkInfo, want: VxlanSettings): boolean {
  const data = link.linkinfo?.info_data;
  return (
    linkKind(link) === "vxlan" &&
    data?.id === want.vni &&
    data.local === want.local &&
    data.port === want.port &&
    data.learning === false
  );
}

export async function ensureVxlan(tools: HostTools, want: VxlanSettings): Promise<void> {
  checkDeviceName(want.name);
  checkDeviceName(want.bridge, "bridge name");
  checkIpv4(want.local, "VXLAN local address");
  if (!Number.isInteger(want.vni) || want.vni < 1 || want.vni > 0xffffff) {
    throw new BlixardError("INVALID_ARGUMENT", `VXLAN id ${want.vni} must be 1-16777215`);
  }
  if (!Number.isInteger(want.port) || want.port < 1 || want.port > 65535) {
    throw new BlixardError("INVALID_ARGUMENT", `VXLAN port ${want.port} must be 1-65535`);
  }
  let link = await showLink(tools, want.name);
  if (link && !matches(link, want)) {
    // Made with another underlay address or VNI (the node moved): its settings cannot be changed in place.
    await deleteLink(tools, want.name);
    link = undefined;
  }
  if (!link) {
    await tools.run("ip", [
      ...["link", "add", want.name, "type", "vxlan", "id", String(want.vni)],
      ...["local", want.local, "dstport", String(want.port), "nolearning"],
    ]);
    link = await showLink(tools, want.name);
    if (!link)
      throw new BlixardError("DRIVER_FAILED", `VXLAN device ${want.name} vanished right after it was made`);
  }
  await converge(tools, link, { mtu: want.mtu, master: want.bridge });
}

/** The peers the device floods to now: the destinations of its all-zeros FDB entries. */
export async function vxlanPeers(tools: HostTools, name: string): Promise<string[]> {
  const parsed = fdbSchema.safeParse(await tools.bridgeJson(["fdb", "show", "dev", checkDeviceName(name)]));
  if (!parsed.success)
    throw new BlixardError("DRIVER_FAILED", `bridge -j fdb show dev ${name}: ${parsed.error.message}`);
  return parsed.data.filter((e) => e.mac === ALL_ZEROS && e.dst !== undefined).map((e) => e.dst as string);
}

/**
 * Makes the device flood to exactly `peers` (underlay addresses of the other nodes): appends the
 * missing entries and deletes those of nodes that left. Returns what changed.
 */
export async function setVxlanPeers(
  tools: HostTools,
  name: string,
  peers: string[],
): Promise<{ added: string[]; removed: string[] }> {
  for (const peer of peers) checkIpv4(peer, "VXLAN peer");
  const wanted = new Set(peers);
  const present = new Set(await vxlanPeers(tools, name));
  const added = [...wanted].filter((p) => !present.has(p));
  const removed = [...present].filter((p) => !wanted.has(p));
  for (const peer of added) {
    await tools.run("bridge", ["fdb", "append", ALL_ZEROS, "dev", name, "dst", peer]);
  }
  for (const peer of removed) {
    await tools.run("bridge", ["fdb", "del", ALL_ZEROS, "dev", name, "dst", peer], {
      okStderr: NO_SUCH_DEVICE,
    });
  }
  return { added, removed };
}

export async function removeVxlan(tools: HostTools, name: string): Promise<void> {
  await deleteLink(tools, name);
}
