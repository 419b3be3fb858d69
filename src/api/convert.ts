/**
 * Conversions between the wire messages (src/gen) and the core types. Input conversion only reshapes:
 * validation happens once, in core's zod schema, on the plain object produced here.
 */
import { create } from "@bufbuild/protobuf";
import type { MicrovmSpec } from "../core/microvm-spec.js";
import type { VmStatus, VmView } from "../core/vm-record.js";
import type { VmSpec } from "../core/vm-spec.js";
import {
  ExitInfoSchema,
  MicrovmSpecSchema,
  type MicrovmSpec as PbMicrovmSpec,
  type Vm as PbVm,
  type VmSpec as PbVmSpec,
  VmSchema,
  VmSpecSchema,
  VmStatusSchema,
} from "../gen/blixard/v1/vm_pb.js";

/** Drops undefined fields so that zod applies its defaults and its unknown-field check sees only real input. */
function compact<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A wire spec as a plain object for `parseVmSpec`. */
export function specInputFromProto(spec: PbVmSpec | undefined): Record<string, unknown> {
  if (!spec) return {};
  const check = spec.healthCheck;
  return compact({
    name: spec.name,
    vcpus: spec.vcpus,
    memory: spec.memory,
    driver: spec.driver,
    kernel: spec.kernel === "" ? undefined : spec.kernel,
    initrd: spec.initrd,
    disk: spec.disk,
    cmdline: spec.cmdline,
    forwards: spec.forwards.map((f) =>
      compact({ host: f.host, guest: f.guest, protocol: f.protocol || undefined }),
    ),
    network: spec.network,
    healthCheck: check
      ? compact({
          type: check.type,
          port: check.type === "console" ? undefined : check.port,
          path: check.type === "http" ? check.path || undefined : undefined,
          pattern: check.type === "console" ? check.pattern : undefined,
          intervalSeconds: check.intervalSeconds,
          timeoutSeconds: check.timeoutSeconds,
          failureThreshold: check.failureThreshold,
          startPeriodSeconds: check.startPeriodSeconds,
        })
      : undefined,
    restartPolicy: spec.restartPolicy,
    restartBackoff: spec.restartBackoff
      ? compact({
          initialSeconds: spec.restartBackoff.initialSeconds,
          maxSeconds: spec.restartBackoff.maxSeconds,
        })
      : undefined,
    placement: spec.placement
      ? compact({
          strategy: spec.placement.strategy,
          constraints: spec.placement.constraints,
          node: spec.placement.node,
        })
      : undefined,
    microvm: spec.microvm ? microvmInputFromProto(spec.microvm) : undefined,
    volumes:
      spec.volumes.length > 0
        ? spec.volumes.map((v) => ({ name: v.name, readOnly: v.readOnly, boot: v.boot }))
        : undefined,
  });
}

function microvmInputFromProto(m: PbMicrovmSpec): Record<string, unknown> {
  return compact({
    flake: m.flake,
    runner: m.runner,
    hypervisor: m.hypervisor,
    nixpkgs: m.nixpkgs,
    microvmFlake: m.microvmFlake,
    modules: m.modules,
    config: m.config,
    interfaces: m.interfaces.map((i) =>
      compact({
        type: i.type,
        id: i.id,
        mac: i.mac,
        bridge: i.bridge,
        macvtap: i.macvtap ? { link: i.macvtap.link, mode: i.macvtap.mode } : undefined,
      }),
    ),
    shares: m.shares.map((s) =>
      compact({ tag: s.tag, source: s.source, mountPoint: s.mountPoint, proto: s.proto }),
    ),
    volumes: m.volumes.map((v) =>
      compact({
        image: v.image,
        mountPoint: v.mountPoint,
        size: v.size,
        fsType: v.fsType,
        readOnly: v.readOnly,
      }),
    ),
  });
}

function microvmToProto(m: MicrovmSpec): PbMicrovmSpec {
  return create(MicrovmSpecSchema, m);
}

export function specToProto(spec: VmSpec): PbVmSpec {
  const check = spec.healthCheck;
  return create(VmSpecSchema, {
    name: spec.name,
    vcpus: spec.vcpus,
    memory: spec.memory,
    driver: spec.driver,
    kernel: spec.kernel,
    initrd: spec.initrd,
    disk: spec.disk,
    cmdline: spec.cmdline,
    forwards: spec.forwards,
    network: spec.network,
    healthCheck: check
      ? {
          type: check.type,
          port: check.type === "console" ? 0 : check.port,
          path: check.type === "http" ? check.path : "",
          pattern: check.type === "console" ? check.pattern : "",
          intervalSeconds: check.intervalSeconds,
          timeoutSeconds: check.timeoutSeconds,
          failureThreshold: check.failureThreshold,
          startPeriodSeconds: check.startPeriodSeconds,
        }
      : undefined,
    restartPolicy: spec.restartPolicy,
    restartBackoff: spec.restartBackoff,
    placement: {
      strategy: spec.placement.strategy,
      constraints: spec.placement.constraints,
      node: spec.placement.node,
    },
    microvm: spec.microvm ? microvmToProto(spec.microvm) : undefined,
    volumes: spec.volumes ?? [],
  });
}

function statusToProto(status: VmStatus, address: string | undefined) {
  const exit = status.lastExit;
  return create(VmStatusSchema, {
    address: address ?? "",
    phase: status.phase,
    node: status.node,
    pid: status.pid ?? undefined,
    restarts: status.restarts,
    health: status.health,
    message: status.message,
    startedAt: status.startedAt ?? undefined,
    readyAt: status.readyAt ?? undefined,
    lastExit: exit
      ? create(ExitInfoSchema, {
          code: exit.code ?? undefined,
          signal: exit.signal ?? undefined,
          known: exit.known,
          at: exit.at,
        })
      : undefined,
    nextRestartAt: status.nextRestartAt === null ? undefined : new Date(status.nextRestartAt).toISOString(),
    updatedAt: status.updatedAt,
  });
}

export function vmToProto(view: VmView): PbVm {
  return create(VmSchema, {
    name: view.name,
    spec: specToProto(view.spec),
    status: statusToProto(view.status, view.address),
    desiredState: view.desiredState,
    deleting: view.deleting,
    createdAt: view.createdAt,
    group: view.group ?? "",
  });
}
