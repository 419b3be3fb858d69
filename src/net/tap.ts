/**
 * Per-VM taps (blxt<address in hex>): persistent tun/tap devices owned by the VM's jail uid and gid,
 * so that the unprivileged, capability-less qemu of that VM can attach to its own tap (the kernel
 * checks the tap's owner at TUNSETIFF) and no other VM's qemu can. Each tap is a port of the bridge.
 */
import { BlixardError } from "../core/errors.js";
import type { HostTools } from "./host-tools.js";
import { converge, deleteLink, type LinkInfo, linkKind, listLinks, showLink } from "./links.js";
import { checkDeviceName } from "./net-names.js";

export interface TapSettings {
  tap: string;
  bridge: string;
  mtu: number;
  /** The uid and gid that may attach; none (root only) when unset, as with `--isolation none`. */
  uid?: number;
  gid?: number;
}

function checkId(id: number | undefined, what: string): void {
  if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id < 2 ** 32 - 1)) {
    throw new BlixardError("INVALID_ARGUMENT", `tap ${what} ${id} must be a non-negative integer id`);
  }
}

/** Whether the existing device is a persistent tap owned exactly as wanted. */
function ownedAsWanted(link: LinkInfo, want: TapSettings): boolean {
  const data = link.linkinfo?.info_data;
  return (
    linkKind(link) === "tun" &&
    data?.type === "tap" &&
    data.persist === true &&
    data.user === want.uid &&
    data.group === want.gid
  );
}

export async function ensureTap(tools: HostTools, want: TapSettings): Promise<void> {
  checkDeviceName(want.tap, "tap name");
  checkDeviceName(want.bridge, "bridge name");
  checkId(want.uid, "uid");
  checkId(want.gid, "gid");
  let link = await showLink(tools, want.tap);
  if (link && !ownedAsWanted(link, want)) {
    if (link.flags.includes("LOWER_UP")) {
      // A process has it open (a running VM): taking the name over would cut that VM off.
      throw new BlixardError(
        "FAILED_PRECONDITION",
        `tap ${want.tap} is in use by another owner (uid ${link.linkinfo?.info_data?.user ?? "root"}); stop the VM using it first`,
      );
    }
    // Left by a VM that had another uid (or not a tap at all): its owner could still attach to it.
    await deleteLink(tools, want.tap);
    link = undefined;
  }
  if (!link) {
    const owner = [
      ...(want.uid === undefined ? [] : ["user", String(want.uid)]),
      ...(want.gid === undefined ? [] : ["group", String(want.gid)]),
    ];
    await tools.run("ip", ["tuntap", "add", "dev", want.tap, "mode", "tap", ...owner]);
    link = await showLink(tools, want.tap);
    if (!link) throw new BlixardError("DRIVER_FAILED", `tap ${want.tap} vanished right after it was made`);
  }
  await converge(tools, link, { mtu: want.mtu, master: want.bridge });
}

export async function removeTap(tools: HostTools, tap: string): Promise<void> {
  await deleteLink(tools, tap);
}

/** The taps whose names start with `prefix`: leftovers of VMs that are gone are found this way. */
export async function listTaps(tools: HostTools, prefix: string): Promise<string[]> {
  if (prefix === "") throw new BlixardError("INVALID_ARGUMENT", "listTaps needs a non-empty prefix");
  return (await listLinks(tools))
    .filter(
      (l) => l.ifname.startsWith(prefix) && linkKind(l) === "tun" && l.linkinfo?.info_data?.type === "tap",
    )
    .map((l) => l.ifname);
}
