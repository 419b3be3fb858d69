/**
 * How a VM is networked, and the names and addresses derived from it. `user` is qemu's user
 * networking (passt): the guest sits behind the node, reachable only through port forwards on the
 * node's loopback. `bridge` gives the guest a cluster address: one tap per VM on the node's bridge,
 * the bridges of all nodes joined by a VXLAN overlay into one L2 segment, so the address works on
 * whichever node runs the VM.
 *
 * Device names and MACs are derived from the VM's cluster address, never from user strings: the
 * address is unique in the cluster (IPAM) and stays with the VM for its whole life, so the tap and
 * the MAC are as unique and as stable, and fit Linux's 15-byte interface names.
 */
export const NETWORK_MODES = ["user", "bridge"] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

/** The node's Linux bridge, its VXLAN device, and the prefix of every per-VM tap. */
export const BRIDGE_DEVICE = "blxbr0";
export const VXLAN_DEVICE = "blxvx0";
export const TAP_PREFIX = "blxt";
/** VXLAN over IPv4 adds 50 bytes to each frame; guests and taps use 1450 on a 1500-byte underlay. */
export const OVERLAY_MTU = 1450;

/** What a VM in bridge mode is plugged into on its node: given to the driver at start. */
export interface BridgeAttachment {
  bridge: string;
  tap: string;
  mac: string;
  mtu: number;
  /** The VM's cluster address (dotted quad), for the guest's DHCP lease and the node's records. */
  address: string;
}

/** The four bytes of a dotted-quad IPv4 address, or undefined when it is not one. */
export function ipv4Bytes(address: string): [number, number, number, number] | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^(0|[1-9][0-9]{0,2})$/.test(p) ? Number(p) : Number.NaN));
  if (bytes.some((b) => !(b >= 0 && b <= 255))) return undefined;
  return bytes as [number, number, number, number];
}

function bytesOf(address: string): [number, number, number, number] {
  const bytes = ipv4Bytes(address);
  if (!bytes) throw new Error(`not an IPv4 address: ${address}`);
  return bytes;
}

const hex = (b: number) => b.toString(16).padStart(2, "0");

/** A locally administered unicast MAC (02:...) carrying the address: 02:b1:a.b.c.d in hex. */
export function macForAddress(address: string): string {
  return ["02", "b1", ...bytesOf(address).map(hex)].join(":");
}

/** The tap of the VM with this address: "blxt" and the address in hex, 12 bytes. */
export function tapForAddress(address: string): string {
  return `${TAP_PREFIX}${bytesOf(address).map(hex).join("")}`;
}

export function bridgeAttachment(address: string): BridgeAttachment {
  return {
    bridge: BRIDGE_DEVICE,
    tap: tapForAddress(address),
    mac: macForAddress(address),
    mtu: OVERLAY_MTU,
    address,
  };
}
