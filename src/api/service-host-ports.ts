/**
 * Host checks on a service's host port: it must not be a port any node uses itself. The attack: an
 * operator's service with hostPort 7001 (or the etcd ports next to it) would have every node rewrite
 * connections to its own API or etcd member to the operator's VMs, taking over the cluster's control
 * traffic (or cutting it off). Checked here against every registered node's API port and the managed
 * etcd ports that follow it (API + 1, API + 2), and against this node's own ports (which may be set
 * apart with --etcd-client-port); each node's proxy also refuses to serve its own ports
 * (agent/services/service-table.ts), whatever the store holds.
 */
import type { FieldViolation } from "../core/errors.js";
import { keys } from "../core/keys.js";
import type { ServiceSpec } from "../core/service-spec.js";
import { nodeRecordCodec } from "../core/store-codecs.js";
import type { Store } from "../ports/store.js";

/** A port a node uses itself, and what for (the error says so). */
export interface ReservedPort {
  port: number;
  what: string;
}

export async function hostPortViolations(
  store: Store,
  spec: ServiceSpec,
  local: readonly ReservedPort[],
): Promise<FieldViolation[]> {
  if (spec.hostPort === undefined) return [];
  const reserved = [...local, ...(await clusterPorts(store))];
  const mine = reserved.find((r) => r.port === spec.hostPort);
  if (!mine) return [];
  const message = `port ${spec.hostPort} is ${mine.what}; a service cannot take it over on every node: pick another, e.g. 30080`;
  return [{ field: "spec.hostPort", message }];
}

async function clusterPorts(store: Store): Promise<ReservedPort[]> {
  const { kvs } = await store.range(keys.nodesPrefix);
  return kvs.flatMap((kv) => {
    const decoded = nodeRecordCodec.decode(kv.value);
    if (!decoded.ok) return [];
    const port = portOf(decoded.value.apiUrl);
    if (port === undefined) return [];
    const node = decoded.value.id;
    return [
      { port, what: `node ${node}'s API port` },
      { port: port + 1, what: `node ${node}'s etcd client port` },
      { port: port + 2, what: `node ${node}'s etcd peer port` },
    ];
  });
}

function portOf(url: string): number | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.port !== "") return Number(parsed.port);
    return parsed.protocol === "https:" ? 443 : 80;
  } catch {
    return undefined;
  }
}
