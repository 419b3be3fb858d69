/**
 * The qemu driver's side of bridge mode: checking the attachment the agent hands over, making the VM's
 * tap before qemu starts (owned by the VM's jail uid and gid, so that only this VM's unprivileged qemu
 * can open it), and deleting it when the VM stops or is removed. The tap is named in the launch record,
 * so a restarted node still finds and deletes it.
 */
import { BlixardError, isBlixardError } from "../../core/errors.js";
import { type BridgeAttachment, TAP_PREFIX } from "../../core/vm-network.js";
import type { HostTools } from "../../net/host-tools.js";
import { showLink } from "../../net/links.js";
import { checkDeviceName, checkIpv4, checkMac } from "../../net/net-names.js";
import { ensureTap, removeTap } from "../../net/tap.js";

/** The attachment, every field checked: they end up in `ip` argv and in qemu's option syntax. */
export function checkAttachment(vm: string, bridge: BridgeAttachment): BridgeAttachment {
  checkDeviceName(bridge.bridge, "bridge name");
  checkDeviceName(bridge.tap, "tap name");
  checkMac(bridge.mac);
  checkIpv4(bridge.address, "VM address");
  if (!bridge.tap.startsWith(TAP_PREFIX)) {
    throw new BlixardError("INVALID_ARGUMENT", `VM ${vm}: tap ${bridge.tap} must start with ${TAP_PREFIX}`);
  }
  if (!Number.isInteger(bridge.mtu) || bridge.mtu < 576 || bridge.mtu > 9000) {
    throw new BlixardError("INVALID_ARGUMENT", `VM ${vm}: tap MTU ${bridge.mtu} must be 576-9000`);
  }
  return bridge;
}

/** Makes (or re-owns) the VM's tap on the bridge; root's alone when the VM runs unjailed. */
export async function plugTap(
  net: HostTools,
  bridge: BridgeAttachment,
  owner: { uid: number; gid: number } | undefined,
): Promise<void> {
  if (!(await showLink(net, bridge.bridge))) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `bridge ${bridge.bridge} does not exist on this node, so a bridge-mode VM cannot be plugged in; start the node with --bridge-network on`,
    );
  }
  try {
    await ensureTap(net, { tap: bridge.tap, bridge: bridge.bridge, mtu: bridge.mtu, ...(owner ?? {}) });
  } catch (err) {
    // A tap made but not plugged in (the bridge vanished meanwhile) is not left behind.
    if (!isBlixardError(err, "FAILED_PRECONDITION")) await unplugTap(net, bridge, owner?.uid);
    throw err;
  }
}

/**
 * Deletes the VM's tap; succeeds when it is gone already. The tap's name comes from the launch
 * record, in a state dir the VM's (hostile) uid owns and could rewrite: a tap is deleted only when it
 * belongs to that uid (or to nobody, for a VM run unjailed by root), never another VM's.
 * Returns whether a tap was deleted.
 */
export async function unplugTap(
  net: HostTools,
  bridge: BridgeAttachment | undefined,
  vmUid: number | undefined,
): Promise<boolean> {
  if (bridge === undefined || !bridge.tap.startsWith(TAP_PREFIX)) return false;
  const link = await showLink(net, checkDeviceName(bridge.tap, "tap name"));
  if (!link) return false;
  const owner = link.linkinfo?.info_data?.user;
  const ours = owner === undefined ? vmUid === undefined || vmUid === 0 : owner === vmUid;
  if (!ours) return false;
  await removeTap(net, bridge.tap);
  return true;
}
