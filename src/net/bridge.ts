/**
 * The node's Linux bridge (blxbr0): the L2 segment its VMs' taps and the VXLAN device are plugged
 * into, carrying the node's own address in the VM subnet, which guests use as gateway and DNS server.
 * `ensureBridge` converges whatever is there (nothing, a bridge from the last run, a bridge with an
 * old address) to the wanted state, so it is safe after a crash or a restart.
 */
import { z } from "zod";
import { BlixardError } from "../core/errors.js";
import type { HostTools } from "./host-tools.js";
import { converge, deleteLink, linkKind, showLink } from "./links.js";
import { checkDeviceName, checkIpv4 } from "./net-names.js";

export interface BridgeSettings {
  name: string;
  /** The node's address on the bridge, from the VM subnet. */
  address: string;
  /** The VM subnet's prefix length, so the whole subnet is on-link through the bridge. */
  prefixLength: number;
  mtu: number;
}

const addrSchema = z.array(
  z.object({
    addr_info: z
      .array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number() }).passthrough())
      .default([]),
  }),
);

/** The IPv4 addresses on the device, as "a.b.c.d/len". */
export async function ipv4Addresses(tools: HostTools, name: string): Promise<string[]> {
  const parsed = addrSchema.safeParse(await tools.ipJson(["addr", "show", "dev", checkDeviceName(name)]));
  if (!parsed.success)
    throw new BlixardError("DRIVER_FAILED", `ip -j addr show ${name}: ${parsed.error.message}`);
  return parsed.data.flatMap((l) =>
    l.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`),
  );
}

export async function ensureBridge(tools: HostTools, want: BridgeSettings): Promise<void> {
  checkDeviceName(want.name);
  checkIpv4(want.address, "bridge address");
  if (!Number.isInteger(want.prefixLength) || want.prefixLength < 1 || want.prefixLength > 30) {
    throw new BlixardError("INVALID_ARGUMENT", `bridge prefix length ${want.prefixLength} must be 1-30`);
  }
  let link = await showLink(tools, want.name);
  if (link && linkKind(link) !== "bridge") {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `device ${want.name} exists but is a ${linkKind(link) ?? "plain"} device, not a bridge; delete it (ip link del ${want.name}) and start again`,
    );
  }
  if (!link) {
    await tools.run("ip", ["link", "add", "name", want.name, "type", "bridge"]);
    link = await showLink(tools, want.name);
    if (!link)
      throw new BlixardError("DRIVER_FAILED", `bridge ${want.name} vanished right after it was made`);
  }
  await converge(tools, link, { mtu: want.mtu });
  const wanted = `${want.address}/${want.prefixLength}`;
  const present = await ipv4Addresses(tools, want.name);
  // An address from an earlier run (the node's claim changed) would answer for a VM's address.
  for (const stale of present.filter((a) => a !== wanted)) {
    await tools.run("ip", ["addr", "del", stale, "dev", want.name]);
  }
  if (!present.includes(wanted)) await tools.run("ip", ["addr", "add", wanted, "dev", want.name]);
}

/** Removes the bridge (its ports are released, not deleted); succeeds when it is gone already. */
export async function removeBridge(tools: HostTools, name: string): Promise<void> {
  await deleteLink(tools, name);
}
