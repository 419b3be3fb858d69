/**
 * Deciding at node start how VMs are isolated on this host (`--isolation strict|none`): probes the
 * host (drivers/jail/host-isolation.ts), refuses to start when `strict` cannot be honoured or when
 * passt is missing, and builds the jail the qemu driver uses. Nothing falls back silently: the log
 * and `node get` say what runs.
 */
import { BlixardError } from "../core/errors.js";
import { nodeCgroupGroup } from "../drivers/jail/cgroups.js";
import { closedAncestor, openToVmGroup } from "../drivers/jail/data-dir-access.js";
import {
  describeIsolation,
  type HostIsolation,
  type IsolationMode,
  probeHostIsolation,
  refusal,
} from "../drivers/jail/host-isolation.js";
import { installLoopbackGuard } from "../drivers/jail/loopback-guard.js";
import { VmJail } from "../drivers/jail/vm-jail.js";
import type { Logger } from "../ports/logger.js";

export interface IsolationSetup {
  host: HostIsolation;
  /** Undefined with `--isolation none`. */
  jail: VmJail | undefined;
  passtBinary: string;
  summary: string;
}

export async function setupIsolation(
  mode: IsolationMode,
  dirs: { root: string; vmsDir: string },
  log: Logger,
): Promise<IsolationSetup> {
  const { vmsDir } = dirs;
  const host = probeHostIsolation({ mode });
  const closed = await closedAncestor(dirs.root);
  if (closed)
    host.missing.push(
      `jailed VMs cannot pass through ${closed} to the data dir ${dirs.root}; use a data dir under /var/lib`,
    );
  // Both modes: passt's --no-map-gw alone does not stop a guest's root from addressing 127.0.0.1.
  const problem = refusal(host);
  if (problem) throw new BlixardError("FAILED_PRECONDITION", problem);
  installLoopbackGuard();
  const jail =
    mode === "strict" && host.cgroup
      ? new VmJail({
          cgroup: { ...host.cgroup, group: nodeCgroupGroup(vmsDir) },
          mountNamespace: host.mountNamespace,
        })
      : undefined;
  // Jailed or not, VM processes (passt at least) run as VM uids and must reach their state dirs.
  if (host.root) await openToVmGroup(dirs.root, vmsDir);
  const summary = describeIsolation(host);
  if (jail) log.info({ isolation: summary, cgroup: host.cgroup }, "VMs run jailed");
  else log.warn({ isolation: summary, missing: host.missing }, "VMs run UNJAILED (--isolation none)");
  return { host, jail, passtBinary: host.passt ?? "passt", summary };
}
