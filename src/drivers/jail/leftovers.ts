/**
 * What a jailed node leaves on the host outside its data dir, removed when a test or a benchmark
 * removes the node for good:
 * its VMs' cgroups (the node's group under the cgroup hierarchies) and the uid claims of its VMs in
 * /run/blixard/vm-uids. A node leaves both on purpose (its VMs outlive it); a test must not.
 */
import { readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { nodeCgroupGroup, removeNodeCgroups } from "./cgroups.js";
import { probeCgroup } from "./host-isolation.js";
import { DEFAULT_UID_REGISTRY } from "./vm-uid.js";

export async function removeJailLeftovers(vmsDir: string): Promise<void> {
  const cgroup = probeCgroup("/sys/fs/cgroup");
  if (cgroup) await removeNodeCgroups({ ...cgroup, group: nodeCgroupGroup(vmsDir) });
  let claims: string[] = [];
  try {
    claims = readdirSync(DEFAULT_UID_REGISTRY);
  } catch {}
  for (const claim of claims) {
    const link = join(DEFAULT_UID_REGISTRY, claim);
    try {
      if (readlinkSync(link).startsWith(`${vmsDir}/`)) rmSync(link, { force: true });
    } catch {}
  }
}
