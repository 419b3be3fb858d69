/**
 * The FunctionService handlers: each deploy is validated once (core/function-spec.ts), with the
 * caller's role checked against the VM its instances will be (an operator boots only images from the
 * node's image directory), then written as a new version. The pool controller and the gateways follow
 * what these handlers record.
 */
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { BlixardError, type FieldViolation } from "../core/errors.js";
import { INSTANCE_PORTS, instanceVmSpec } from "../core/function-instance.js";
import type { FunctionRecord } from "../core/function-record.js";
import { sumLoads } from "../core/function-scaling.js";
import { type FunctionSpec, parseFunctionSpec } from "../core/function-spec.js";
import { validName } from "../core/names.js";
import { specFieldViolations } from "../core/spec-policy.js";
import type { VmSpec } from "../core/vm-spec.js";
import type {
  FunctionInfo,
  FunctionService,
  FunctionSpec as FunctionSpecProto,
} from "../gen/blixard/v1/function_pb.js";
import type { Store } from "../ports/store.js";
import { type FunctionState, readFunctionState } from "../state/function-state.js";
import type { FunctionRepository } from "./function-repository.js";
import { actorOf } from "./principal-context.js";

export interface FunctionHandlerDeps {
  repo: FunctionRepository;
  store: Store;
  /** The node's default guest image, used when a spec names no kernel. */
  defaultImage: () => Promise<{ kernel: string; initrd?: string } | undefined>;
  /** The node's image directory: the only host paths a non-admin spec may name. */
  imageRoot: string;
  /** Host-side checks of the instances' VM spec (do the image files exist?). */
  hostFiles: (spec: VmSpec) => Promise<FieldViolation[]>;
}

type Info = Omit<FunctionInfo, "$typeName" | "$unknown" | "spec" | "versions" | "instances"> & {
  spec: ReturnType<typeof specToProto>;
  versions: { version: number; deployedAt: string; actor: string }[];
  instances: { vm: string; version: number; state: string; node: string; inFlight: number }[];
};

export function functionHandlers(deps: FunctionHandlerDeps): ServiceImpl<typeof FunctionService> {
  const { repo } = deps;
  return {
    async deployFunction(req, ctx) {
      const spec = await admitFunction(deps, ctx, specInputFromProto(req.spec));
      const record = await repo.deploy(spec, actorOf(ctx)?.name);
      return { function: toInfo(record, await readFunctionState(deps.store)) };
    },

    async getFunction(req) {
      const record = await repo.get(validName(req.name));
      return { function: toInfo(record, await readFunctionState(deps.store)) };
    },

    async listFunctions() {
      const state = await readFunctionState(deps.store);
      const records = [...state.records.values()].map((r) => r.record);
      records.sort((a, b) => a.name.localeCompare(b.name));
      return { functions: records.map((r) => toInfo(r, state)) };
    },

    async deleteFunction(req, ctx) {
      const name = validName(req.name);
      await repo.delete(name, actorOf(ctx)?.name);
      return { name };
    },
  };
}

async function admitFunction(
  deps: FunctionHandlerDeps,
  ctx: HandlerContext,
  input: Record<string, unknown>,
): Promise<FunctionSpec> {
  if (input["kernel"] === undefined) {
    const image = await deps.defaultImage();
    if (!image) {
      throw new BlixardError(
        "INVALID_ARGUMENT",
        "spec.kernel: no kernel given and this node has no default guest image; pass --kernel PATH",
        { violations: [{ field: "spec.kernel", message: "required: this node has no default guest image" }] },
      );
    }
    input["kernel"] = image.kernel;
    if (input["initrd"] === undefined && image.initrd) input["initrd"] = image.initrd;
  }
  const spec = parseFunctionSpec(input);
  // The instances' VM spec, as the pool controller will create it: the role and host checks of a VM.
  const probe: FunctionRecord = { name: spec.name, version: 1, spec, createdAt: "", history: [] };
  const vm = instanceVmSpec(probe, 0, INSTANCE_PORTS.first);
  const denied = specFieldViolations(actorOf(ctx)?.role ?? "operator", vm, deps.imageRoot);
  if (denied.length > 0) {
    const summary = denied.map((v) => `${v.field}: ${v.message}`).join("; ");
    throw new BlixardError("PERMISSION_DENIED", `permission denied: ${summary}`, { violations: denied });
  }
  const missing = await deps.hostFiles(vm);
  if (missing.length > 0) {
    const summary = missing.map((v) => `${v.field}: ${v.message}`).join("; ");
    throw new BlixardError("INVALID_ARGUMENT", `invalid function spec: ${summary}`, { violations: missing });
  }
  return spec;
}

/** The wire spec as zod input: proto3 zeros and empty strings mean "the default". */
export function specInputFromProto(spec: FunctionSpecProto | undefined): Record<string, unknown> {
  if (!spec) return {};
  const out: Record<string, unknown> = { name: spec.name };
  for (const field of ["kernel", "initrd", "disk", "cmdline"] as const) {
    if (spec[field] !== "") out[field] = spec[field];
  }
  for (const field of ["port", "memory", "vcpus", "maxInstances", "concurrency", "idleTimeout"] as const) {
    if (spec[field] !== 0) out[field] = spec[field];
  }
  if (spec.minInstances !== undefined) out["minInstances"] = spec.minInstances;
  if (Object.keys(spec.env).length > 0) out["env"] = { ...spec.env };
  if (spec.constraints.length > 0) out["constraints"] = [...spec.constraints];
  return out;
}

export function specToProto(spec: FunctionSpec): Omit<FunctionSpecProto, "$typeName" | "$unknown"> {
  return {
    name: spec.name,
    kernel: spec.kernel ?? "",
    initrd: spec.initrd ?? "",
    disk: spec.disk ?? "",
    port: spec.port,
    memory: spec.memory,
    vcpus: spec.vcpus,
    minInstances: spec.minInstances,
    maxInstances: spec.maxInstances,
    concurrency: spec.concurrency,
    idleTimeout: spec.idleTimeout,
    env: { ...spec.env },
    cmdline: spec.cmdline,
    constraints: [...spec.constraints],
  };
}

function toInfo(record: FunctionRecord, state: FunctionState): Info {
  const load = sumLoads(state.loads.get(record.name) ?? []);
  const instances = (state.instances.get(record.name) ?? []).sort(
    (a, b) => a.version - b.version || a.index - b.index,
  );
  return {
    spec: specToProto(record.spec),
    version: record.version,
    createdAt: record.createdAt,
    versions: record.history.map((h) => ({
      version: h.version,
      deployedAt: h.deployedAt,
      actor: h.actor ?? "",
    })),
    instances: instances.map((i) => ({
      vm: i.name,
      version: i.version,
      state: i.state,
      node: i.node,
      inFlight: load.instances[i.name]?.inFlight ?? 0,
    })),
    waiting: load.waiting,
  };
}
