/**
 * The VmService handlers: validate each request once, then write desired state through the repository.
 * Nothing here touches a VM directly; the agent converges VMs to what these handlers record.
 */
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { BlixardError, type FieldViolation } from "../core/errors.js";
import { nameProblem, validName } from "../core/names.js";
import type { VmRecord } from "../core/vm-record.js";
import { parseVmSpec, type VmSpec } from "../core/vm-spec.js";
import type { VmService } from "../gen/blixard/v1/vm_pb.js";
import type { Clock } from "../ports/clock.js";
import { specInputFromProto, vmToProto } from "./convert.js";
import type { EventFilter, EventLog, LoggedEvent } from "./event-log.js";
import { refuseInstanceName, userVmName } from "./function-owned.js";
import { actorOf } from "./principal-context.js";
import { admit, permitSpec } from "./spec-admission.js";
import type { VmRepository } from "./vm-repository.js";

/** Console logs of VMs on this node. */
export interface LogSource {
  /**
   * The last `lines` lines (all when 0), a bounded chunk at a time, so that no request holds the whole
   * log; then the offset to follow from (opaque for a VM on another node: it only says whether text
   * came).
   */
  stream(name: string, lines: number): { chunks: AsyncIterable<string>; offset(): number };
  follow(name: string, offset: number, signal: AbortSignal): AsyncIterable<string>;
}

/** Host-side checks of a parsed spec (do the files exist?), supplied by the daemon. */
export type Admission = (spec: VmSpec) => Promise<FieldViolation[]>;

export interface DefaultImage {
  kernel: string;
  initrd?: string;
}

export interface VmServiceDeps {
  repo: VmRepository;
  clock: Clock;
  nodeId: string;
  admission: Admission;
  /** The node's default guest image, used when a spec names no kernel. */
  defaultImage: () => Promise<DefaultImage | undefined>;
  logs: LogSource;
  events: EventLog;
  /** The node's image directory: the only host paths a non-admin spec may name (core/spec-policy.ts). */
  imageRoot: string;
}

const TERMINAL = new Set(["Stopped", "Failed"]);
/** The most a GetVmLogs reply carries (in UTF-16 units, about 1 MiB of console text). */
const MAX_UNARY_LOG_CHARS = 1 << 20;

export function vmServiceImpl(deps: VmServiceDeps): ServiceImpl<typeof VmService> {
  const { repo } = deps;
  return {
    async createVm(req, ctx) {
      if (req.spec?.name) refuseInstanceName(req.spec.name, "spec.name");
      const spec = await admit(deps, ctx, specInputFromProto(req.spec));
      const actor = actorOf(ctx)?.name;
      if (req.replicas === 0) {
        return { vm: vmToProto(await repo.create(newRecord(deps, spec, req.start), actor)) };
      }
      const replicas = replicaRecords(deps, spec, req.start, req.replicas, 1);
      const views = await repo.createAll(replicas, actor);
      return { vm: vmToProto(views[0]!), replicas: views.map(vmToProto) };
    },

    async updateVm(req, ctx) {
      const input = specInputFromProto(req.spec);
      // Read first: NOT_FOUND tells `apply` to create it, and admission checks only new forwards.
      const current = await repo.get(userVmName(typeof input["name"] === "string" ? input["name"] : ""));
      const spec = await admit(deps, ctx, input, current.spec);
      const expected = req.expectedSpec && parseVmSpec(specInputFromProto(req.expectedSpec), "expectedSpec");
      const result = await repo.updateSpec({
        spec,
        dryRun: req.dryRun,
        actor: actorOf(ctx)?.name,
        ...(expected ? { expected } : {}),
      });
      return {
        vm: vmToProto(result.written ? await repo.get(spec.name) : current),
        changes: result.changes.map((c) => ({
          path: c.path,
          oldValue: json(c.before),
          newValue: json(c.after),
        })),
        restart: result.restart,
        dryRun: req.dryRun,
      };
    },

    async scaleVmGroup(req, ctx) {
      const group = userVmName(req.group, "group");
      if (req.replicas > MAX_REPLICAS) throw replicasProblem(`at most ${MAX_REPLICAS} replicas`);
      const members = (await repo.list())
        .filter((v) => v.group === group && !v.deleting)
        .sort((a, b) => replicaIndex(a.name, group) - replicaIndex(b.name, group));
      if (members.length === 0) {
        throw new BlixardError(
          "NOT_FOUND",
          `no replica group "${group}"; create one with: blixard vm create ${group} --replicas N`,
        );
      }
      if (req.replicas > members.length) {
        const template = members[members.length - 1]!;
        // An admin's group may boot host paths; an operator scaling it would create more such VMs.
        permitSpec(deps, ctx, template.spec);
        const next = Math.max(...members.map((m) => replicaIndex(m.name, group))) + 1;
        const records = replicaRecords(
          deps,
          template.spec,
          template.desiredState === "running",
          req.replicas - members.length,
          next,
          group,
        );
        await repo.createAll(records, actorOf(ctx)?.name);
        return { created: records.map((r) => r.name), deleting: [] };
      }
      const surplus = members.slice(req.replicas);
      const request = {
        actor: actorOf(ctx)?.name,
        reason: `delete requested: group ${group} scaled to ${req.replicas}`,
      };
      for (const vm of surplus) await repo.update(vm.name, (r) => ({ ...r, deleting: true }), request);
      return { created: [], deleting: surplus.map((v) => v.name) };
    },

    async getVm(req) {
      return { vm: vmToProto(await repo.get(validName(req.name))) };
    },

    async listVms() {
      const views = await repo.list();
      return { vms: views.sort((a, b) => a.name.localeCompare(b.name)).map(vmToProto) };
    },

    async startVm(req, ctx) {
      const name = userVmName(req.name);
      const current = await repo.get(name);
      // Starting a VM that is desired running but has failed or stopped for good asks for a fresh start.
      const retry = current.desiredState === "running" && TERMINAL.has(current.status.phase);
      const view = await repo.update(
        name,
        (r) => ({
          ...notDeleting(r),
          desiredState: "running",
          restartNonce: r.restartNonce + (retry ? 1 : 0),
        }),
        requested(ctx, "start requested"),
      );
      return { vm: vmToProto(view) };
    },

    async stopVm(req, ctx) {
      const view = await repo.update(
        userVmName(req.name),
        (r) => ({ ...notDeleting(r), desiredState: "stopped" }),
        requested(ctx, "stop requested"),
      );
      return { vm: vmToProto(view) };
    },

    async restartVm(req, ctx) {
      const view = await repo.update(
        userVmName(req.name),
        (r) => ({ ...notDeleting(r), desiredState: "running", restartNonce: r.restartNonce + 1 }),
        requested(ctx, "restart requested"),
      );
      return { vm: vmToProto(view) };
    },

    async deleteVm(req, ctx) {
      const name = userVmName(req.name);
      // A record no valid API call wrote is removed outright: no agent acts on it to finish a delete.
      if (await repo.purgeInvalid(name)) return {};
      const view = await repo.update(
        name,
        (r) => ({ ...r, deleting: true }),
        requested(ctx, "delete requested"),
      );
      return { vm: vmToProto(view) };
    },

    async getVmLogs(req) {
      const name = validName(req.name);
      await repo.get(name);
      // One reply holds the text, so it is bounded: a larger log goes through FollowVmLogs.
      let text = "";
      for await (const chunk of deps.logs.stream(name, req.tail).chunks) {
        text += chunk;
        if (text.length > MAX_UNARY_LOG_CHARS) {
          throw new BlixardError(
            "FAILED_PRECONDITION",
            `the last ${req.tail || "all"} lines of VM ${name}'s console are over ${MAX_UNARY_LOG_CHARS} characters: ` +
              "ask for fewer lines, or stream them with FollowVmLogs and stop_at_end (as `blixard vm logs` does)",
          );
        }
      }
      return { text };
    },

    async listEvents(req) {
      const { events } = await deps.events.list(eventFilter(req));
      return { events: events.map(eventToProto) };
    },

    async *followEvents(req, ctx) {
      const filter = eventFilter(req);
      const { events, revision } = await deps.events.list(filter);
      for (const event of events) yield eventToProto(event);
      for await (const event of deps.events.follow(filter, revision, ctx.signal)) yield eventToProto(event);
    },

    async *followVmLogs(req, ctx) {
      const name = validName(req.name);
      await repo.get(name);
      // The log so far goes out a chunk at a time (each one sent before the next is read), then either
      // the stream ends (stop_at_end: `vm logs`) or new output follows from where it ended.
      const stream = deps.logs.stream(name, req.tail);
      for await (const text of stream.chunks) yield { text };
      if (req.stopAtEnd) return;
      for await (const chunk of deps.logs.follow(name, stream.offset(), ctx.signal)) yield { text: chunk };
    },
  };
}

const MAX_REPLICAS = 100;

function newRecord(deps: VmServiceDeps, spec: VmSpec, start: boolean, group?: string): VmRecord {
  return {
    name: spec.name,
    spec,
    // The leader's scheduler picks the node (honouring spec.placement) and records it apart.
    desiredState: start ? "running" : "stopped",
    restartNonce: 0,
    deleting: false,
    createdAt: new Date(deps.clock.now()).toISOString(),
    ...(group === undefined ? {} : { group }),
  };
}

function replicasProblem(message: string): BlixardError {
  return new BlixardError("INVALID_ARGUMENT", `replicas: ${message}`, {
    violations: [{ field: "replicas", message }],
  });
}

/** GROUP-first … GROUP-(first+count-1), each a copy of `spec` under its own name. */
function replicaRecords(
  deps: VmServiceDeps,
  spec: VmSpec,
  start: boolean,
  count: number,
  first: number,
  group = spec.name,
): VmRecord[] {
  if (count > MAX_REPLICAS) throw replicasProblem(`at most ${MAX_REPLICAS}`);
  if (spec.forwards.length > 0) {
    throw replicasProblem(
      "replicas cannot forward host ports: every copy would need the same port; drop --forward",
    );
  }
  if (spec.placement.node !== undefined) {
    throw replicasProblem("replicas never share a node, so they cannot all be placed on one (drop --node)");
  }
  return Array.from({ length: count }, (_, i) => {
    const name = `${group}-${first + i}`;
    const problem = nameProblem(name);
    if (problem) throw replicasProblem(`replica name ${name} ${problem}`);
    return newRecord(deps, { ...spec, name }, start, group);
  });
}

function replicaIndex(name: string, group: string): number {
  return Number(name.slice(group.length + 1)) || 0;
}

function eventFilter(req: { vm: string; node: string; limit: number }): EventFilter {
  if (req.vm !== "") validName(req.vm);
  return { vm: req.vm, node: req.node, limit: req.limit };
}

function eventToProto(event: LoggedEvent) {
  return { ...event, actor: event.actor ?? "", revision: BigInt(event.revision) };
}

/** A spec value on the wire: JSON, or absent when the field is unset. */
function json(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

/** The audit event of a user's request: who asked for what. */
function requested(ctx: HandlerContext, reason: string): { actor: string | undefined; reason: string } {
  return { actor: actorOf(ctx)?.name, reason };
}

function notDeleting(record: VmRecord): VmRecord {
  if (record.deleting) {
    throw new BlixardError(
      "FAILED_PRECONDITION",
      `VM "${record.name}" is being deleted; wait for it to disappear`,
    );
  }
  return record;
}
