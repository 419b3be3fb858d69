/**
 * A function's instance as a VM: the record the pool controller creates for index `n` of the current
 * version. Instances are ordinary VMs, so the scheduler places them (capacity, constraints, failover)
 * and the agents run them; only their name (`fn-<name>-<version>-<n>`) says whose they are. Pure.
 */
import { type FunctionRecord, instanceName } from "./function-record.js";
import { envCmdline } from "./function-spec.js";
import type { VmRecord } from "./vm-record.js";
import { parseVmSpec, type VmSpec } from "./vm-spec.js";

/**
 * Host ports the instances' forwards are drawn from (user networking: the gateway reaches an
 * instance at 127.0.0.1:PORT on its node). Claimed cluster-wide like any forward (keys.portClaim).
 */
export const INSTANCE_PORTS = { first: 41000, last: 41999 } as const;

/** The VM spec every instance of `record`'s current version gets, forwarding `hostPort`. */
export function instanceVmSpec(record: FunctionRecord, index: number, hostPort: number): VmSpec {
  const { spec } = record;
  const cmdline = [spec.cmdline, envCmdline(spec.env)].filter((s) => s !== "").join(" ");
  return parseVmSpec({
    name: instanceName(record.name, record.version, index),
    vcpus: spec.vcpus,
    memory: spec.memory,
    ...(spec.kernel === undefined ? {} : { kernel: spec.kernel }),
    ...(spec.initrd === undefined ? {} : { initrd: spec.initrd }),
    ...(spec.disk === undefined ? {} : { disk: spec.disk }),
    cmdline,
    forwards: [{ host: hostPort, guest: spec.port, protocol: "tcp" }],
    network: "user",
    // Ready means the function's port answers HTTP: the gateway sends requests only to ready instances.
    healthCheck: {
      type: "http",
      port: spec.port,
      path: "/",
      intervalSeconds: 0.5,
      timeoutSeconds: 2,
      failureThreshold: 3,
      startPeriodSeconds: 300,
    },
    // A crashed instance is replaced by the pool controller (with an event), not restarted in place.
    restartPolicy: "never",
    placement: { constraints: spec.constraints },
  });
}

export function instanceRecord(
  record: FunctionRecord,
  index: number,
  hostPort: number,
  createdAt: string,
): VmRecord {
  return {
    name: instanceName(record.name, record.version, index),
    spec: instanceVmSpec(record, index, hostPort),
    desiredState: "running",
    restartNonce: 0,
    deleting: false,
    createdAt,
  };
}

/** The host port an instance's forward listens on (its node's loopback). */
export function instancePort(spec: VmSpec): number | undefined {
  return spec.forwards.find((f) => f.protocol === "tcp")?.host;
}

/** The lowest `count` ports of the instance range not in `taken`. */
export function freeInstancePorts(taken: ReadonlySet<number>, count: number): number[] {
  const out: number[] = [];
  for (let p = INSTANCE_PORTS.first; p <= INSTANCE_PORTS.last && out.length < count; p++) {
    if (!taken.has(p)) out.push(p);
  }
  return out;
}
