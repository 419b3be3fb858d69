/**
 * Reading a network device's state through `ip -j -d link show`, parsed with zod into the few fields
 * the ensure functions compare (kind, MTU, master, state, a tap's owner, a VXLAN's settings), and the
 * small link steps they share. Everything here is idempotent: a missing device reads as undefined, and
 * deleting one that is gone succeeds.
 */
import { z } from "zod";
import { BlixardError } from "../core/errors.js";
import { type HostTools, NO_SUCH_DEVICE } from "./host-tools.js";
import { checkDeviceName } from "./net-names.js";

const linkSchema = z.object({
  ifname: z.string(),
  mtu: z.number(),
  flags: z.array(z.string()).default([]),
  master: z.string().optional(),
  address: z.string().optional(),
  linkinfo: z
    .object({
      info_kind: z.string().optional(),
      info_data: z
        .object({
          type: z.string().optional(),
          persist: z.boolean().optional(),
          user: z.number().optional(),
          group: z.number().optional(),
          id: z.number().optional(),
          local: z.string().optional(),
          port: z.number().optional(),
          learning: z.boolean().optional(),
        })
        .passthrough()
        .optional(),
    })
    .passthrough()
    .optional(),
});

export type LinkInfo = z.infer<typeof linkSchema>;

function parseLink(raw: unknown, name: string): LinkInfo {
  const parsed = linkSchema.safeParse(raw);
  if (!parsed.success) {
    throw new BlixardError(
      "DRIVER_FAILED",
      `ip -j -d link show ${name} printed an unexpected shape: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}

/** The device, or undefined when there is none by that name. */
export async function showLink(tools: HostTools, name: string): Promise<LinkInfo | undefined> {
  checkDeviceName(name);
  const out = await tools.run("ip", ["-j", "-d", "link", "show", "dev", name], { okStderr: NO_SUCH_DEVICE });
  if (out.trim() === "") return undefined;
  const list = JSON.parse(out) as unknown;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return parseLink(list[0], name);
}

/** Every device, for finding leftovers by prefix. */
export async function listLinks(tools: HostTools): Promise<LinkInfo[]> {
  return (await tools.ipJson(["-d", "link", "show"])).map((raw) => parseLink(raw, "(all)"));
}

export function linkKind(link: LinkInfo): string | undefined {
  return link.linkinfo?.info_kind;
}

/** Deletes the device; succeeds when it is already gone. */
export async function deleteLink(tools: HostTools, name: string): Promise<void> {
  checkDeviceName(name);
  await tools.run("ip", ["link", "del", "dev", name], { okStderr: NO_SUCH_DEVICE });
}

/** Sets MTU, master and up, each only when it differs (a change to a live device is never needless). */
export async function converge(
  tools: HostTools,
  link: LinkInfo,
  want: { mtu: number; master?: string },
): Promise<void> {
  if (link.mtu !== want.mtu)
    await tools.run("ip", ["link", "set", "dev", link.ifname, "mtu", String(want.mtu)]);
  if (want.master !== undefined && link.master !== want.master) {
    await tools.run("ip", ["link", "set", "dev", link.ifname, "master", checkDeviceName(want.master)]);
  }
  if (!link.flags.includes("UP")) await tools.run("ip", ["link", "set", "dev", link.ifname, "up"]);
}
