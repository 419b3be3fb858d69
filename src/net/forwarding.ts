/**
 * IPv4 forwarding, which the node needs for its guests to reach anything beyond the overlay (their
 * traffic is routed out of the bridge, then masqueraded). Traffic between guests is bridged and needs
 * none. Set through `sysctl` in the namespace HostTools acts in; never turned off again, because
 * other software on the host (container runtimes) may rely on it too.
 */
import type { HostTools } from "./host-tools.js";

export async function ipv4Forwarding(tools: HostTools): Promise<boolean> {
  return (await tools.run("sysctl", ["-n", "net.ipv4.ip_forward"])).trim() === "1";
}

/** Turns IPv4 forwarding on (idempotent); returns whether it was off before. */
export async function enableIpv4Forwarding(tools: HostTools): Promise<boolean> {
  if (await ipv4Forwarding(tools)) return false;
  await tools.run("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  return true;
}
