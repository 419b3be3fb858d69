/**
 * The ServiceService handlers: validate each request once (core/service-spec.ts), then write through
 * the repository. The nodes' proxies (agent/services/) follow what these handlers record.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { BlixardError } from "../core/errors.js";
import { validName } from "../core/names.js";
import type { ServiceRecord } from "../core/service-record.js";
import { parseServiceSpec, type ServiceSpec } from "../core/service-spec.js";
import type {
  ServiceInfo,
  ServiceService,
  ServiceSpec as ServiceSpecProto,
} from "../gen/blixard/v1/service_pb.js";
import type { Store } from "../ports/store.js";
import { actorOf } from "./principal-context.js";
import { hostPortViolations, type ReservedPort } from "./service-host-ports.js";
import { type MembersOf, readMembers } from "./service-members-reader.js";
import type { ServiceRepository } from "./service-repository.js";

export interface ServiceHandlerDeps {
  repo: ServiceRepository;
  store: Store;
  /** This node's own ports (API, etcd client and peer), refused as host ports. */
  reservedPorts?: () => readonly ReservedPort[];
}

export function serviceHandlers(deps: ServiceHandlerDeps): ServiceImpl<typeof ServiceService> {
  const { repo } = deps;
  return {
    async createService(req, ctx) {
      const spec = parseServiceSpec(specInputFromProto(req.spec));
      const violations = await hostPortViolations(deps.store, spec, deps.reservedPorts?.() ?? []);
      if (violations.length > 0) {
        const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
        throw new BlixardError("FAILED_PRECONDITION", summary, { violations });
      }
      const record = await repo.create(spec, actorOf(ctx)?.name);
      return { service: toInfo(record, await readMembers(deps.store)) };
    },

    async getService(req) {
      const record = await repo.get(validName(req.name));
      return { service: toInfo(record, await readMembers(deps.store)) };
    },

    async listServices() {
      const [records, members] = await Promise.all([repo.list(), readMembers(deps.store)]);
      records.sort((a, b) => a.name.localeCompare(b.name));
      return { services: records.map((r) => toInfo(r, members)) };
    },

    async deleteService(req, ctx) {
      const name = validName(req.name);
      await repo.delete(name, actorOf(ctx)?.name);
      return { name };
    },
  };
}

/**
 * The wire spec as zod input: proto3 cannot tell an empty protocol from an absent one, so empty
 * means the default; absent host_port means none.
 */
export function specInputFromProto(spec: ServiceSpecProto | undefined): Record<string, unknown> {
  if (!spec) return {};
  return {
    name: spec.name,
    port: spec.port,
    targetPort: spec.targetPort,
    group: spec.group,
    ...(spec.protocol === "" ? {} : { protocol: spec.protocol }),
    ...(spec.hostPort === undefined ? {} : { hostPort: spec.hostPort }),
  };
}

export function specToProto(spec: ServiceSpec): Omit<ServiceSpecProto, "$typeName" | "$unknown"> {
  return {
    name: spec.name,
    port: spec.port,
    targetPort: spec.targetPort,
    group: spec.group,
    protocol: spec.protocol,
    ...(spec.hostPort === undefined ? {} : { hostPort: spec.hostPort }),
  };
}

function toInfo(
  record: ServiceRecord,
  membersOf: MembersOf,
): Omit<ServiceInfo, "$typeName" | "$unknown" | "spec" | "members"> & {
  spec: ReturnType<typeof specToProto>;
  members: { vm: string; address: string; port: number }[];
} {
  return {
    spec: specToProto(record.spec),
    address: record.address,
    createdAt: record.createdAt,
    members: membersOf(record.spec),
  };
}
