/**
 * What a node needs before it can run bridge-mode VMs (`--bridge-network on`), checked at start so
 * that it refuses with the missing piece named instead of failing at the first VM: root (devices,
 * nftables), the ip, bridge, nft and dnsmasq programs, /dev/net/tun, and an IPv4 underlay address
 * that the other nodes reach (its VXLAN endpoint).
 */
import { existsSync } from "node:fs";
import { BlixardError } from "../core/errors.js";
import { ipv4Bytes } from "../core/vm-network.js";
import { findOnPath } from "../drivers/shared/find-on-path.js";

export interface BridgeFacts {
  root: boolean;
  /** Programs found on the PATH, by name. */
  programs: Record<string, string | undefined>;
  tun: boolean;
}

export const BRIDGE_PROGRAMS = ["ip", "bridge", "nft", "dnsmasq"] as const;

export function hostBridgeFacts(): BridgeFacts {
  return {
    root: process.getuid?.() === 0,
    programs: Object.fromEntries(BRIDGE_PROGRAMS.map((p) => [p, findOnPath(p)])),
    tun: existsSync("/dev/net/tun"),
  };
}

/** The node's VXLAN endpoint (its advertised underlay address), or INVALID_ARGUMENT saying what to do. */
export function checkBridgePreconditions(facts: BridgeFacts, advertised: string): string {
  const problems: string[] = [];
  if (!facts.root) problems.push("it must run as root (it creates devices and nftables tables)");
  const missing = BRIDGE_PROGRAMS.filter((p) => facts.programs[p] === undefined);
  if (missing.length > 0) {
    problems.push(
      `${missing.join(", ")} not found on the PATH (Debian: apt-get install iproute2 nftables dnsmasq-base)`,
    );
  }
  if (!facts.tun) problems.push("/dev/net/tun is missing (load the tun module)");
  const vtep = advertised === "0.0.0.0" || ipv4Bytes(advertised) === undefined ? undefined : advertised;
  if (vtep === undefined) {
    problems.push(
      `its advertised address "${advertised}" is not an IPv4 address the other nodes reach; pass --advertise-host with one`,
    );
  }
  if (problems.length > 0) {
    throw new BlixardError(
      "INVALID_ARGUMENT",
      `--bridge-network on: ${problems.join("; ")}; or start the node with --bridge-network off`,
    );
  }
  return vtep!;
}
