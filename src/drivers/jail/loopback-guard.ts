/**
 * The host firewall rule that keeps VMs' networking away from the host's loopback. passt's
 * `--no-map-gw` only stops the gateway address from meaning the host; a guest whose root routes
 * 127.0.0.0/8 out of its NIC still hands passt packets addressed to 127.0.0.1, and passt (Debian 12's)
 * connects them. So every new connection (or first datagram) from a socket owned by a VM uid, or by
 * the uid passt runs as unjailed, to 127.0.0.0/8 or ::1 is rejected. Replies to the port forwards
 * (the host connecting to passt) are not new, so forwards keep working. The table is shared by every
 * node on the host and outlives the node, as its VMs do.
 */
import { spawnSync } from "node:child_process";
import { BlixardError } from "../../core/errors.js";
import { VM_GROUP, VM_UID_BASE, VM_UID_COUNT } from "./vm-uid.js";

export const GUARD_TABLE = "blixard_vm_guard";

/** The uids whose sockets the rule covers: the VM group id (unjailed passt) and every VM uid. */
export const GUARDED_UIDS = `${VM_GROUP}-${VM_UID_BASE + VM_UID_COUNT - 1}`;

/** The nftables script: created if absent, then replaced whole, so it is the same after every start. */
export function guardRuleset(): string {
  const match = `meta skuid ${GUARDED_UIDS} ct state new`;
  return [
    `table inet ${GUARD_TABLE}`,
    `delete table inet ${GUARD_TABLE}`,
    `table inet ${GUARD_TABLE} {`,
    "  chain output {",
    "    type filter hook output priority filter; policy accept;",
    `    ${match} ip daddr 127.0.0.0/8 counter reject with tcp reset`,
    `    ${match} ip daddr 127.0.0.0/8 counter reject`,
    `    ${match} ip6 daddr ::1 counter reject with tcp reset`,
    `    ${match} ip6 daddr ::1 counter reject`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Installs (or refreshes) the rule; throws with nft's own words when it cannot. */
export function installLoopbackGuard(nft = "nft"): void {
  const result = spawnSync(nft, ["-f", "-"], { input: guardRuleset(), encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) {
    const said = (result.stderr || result.error?.message || "").trim();
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `cannot install the firewall rule that keeps guests off this host's loopback (nft: ${said}); ` +
        "install nftables and run the node as root",
    );
  }
}
