/**
 * The VolumeService handlers: each request is validated once here (zod; errors name the field and
 * the fix), then written through the repository (volume-repository.ts). A host image to copy from
 * is a host path, which lets the caller read any file the node can: the admin role only, checked
 * before anything about the path is looked at.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { z } from "zod";
import { BlixardError } from "../core/errors.js";
import { nameProblem } from "../core/names.js";
import { roleAtLeast } from "../core/roles.js";
import { toViolations } from "../core/vm-spec.js";
import { MAX_VOLUME_BYTES, MIN_VOLUME_BYTES, VOLUME_BACKEND_NAMES, type VolumeView } from "../core/volume.js";
import { type VolumeInfo, VolumeInfoSchema, type VolumeService } from "../gen/blixard/v1/volume_pb.js";
import { actorOf } from "./principal-context.js";
import type { VolumeRepository } from "./volume-repository.js";

const label = (what: string) =>
  z.string().superRefine((value, ctx) => {
    const problem = nameProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `${what} ${problem}` });
  });

const hostPath = z
  .string()
  .max(4096)
  .refine((p) => p.startsWith("/"), "must be an absolute path (the CLI resolves relative paths for you)")
  .refine(
    (p) => !p.includes("\0") && !p.split("/").some((s) => s === "." || s === ".."),
    "must be a plain absolute path",
  );

const createSchema = z
  .strictObject({
    name: label("the volume name"),
    sizeBytes: z
      .number()
      .int()
      .min(MIN_VOLUME_BYTES, "must be at least 1 MiB; pass e.g. --size 1G")
      .max(MAX_VOLUME_BYTES, "must be at most 16 TiB"),
    backend: z.enum(VOLUME_BACKEND_NAMES, { message: "must be local or rbd" }).default("local"),
    pool: label("the pool").optional(),
    fromImage: hostPath.optional(),
    node: label("the node id").optional(),
  })
  .superRefine((req, ctx) => {
    if (req.backend === "rbd" && req.pool === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["pool"],
        message: "an rbd volume needs a pool; pass --pool NAME",
      });
    }
    if (req.backend === "local" && req.pool !== undefined) {
      ctx.addIssue({ code: "custom", path: ["pool"], message: "a local volume has no pool; remove --pool" });
    }
  });

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const violations = toViolations(parsed.error);
  const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
  throw new BlixardError("INVALID_ARGUMENT", summary, { violations });
}

function name(field: string, value: string): string {
  const problem = nameProblem(value);
  if (problem) {
    throw new BlixardError("INVALID_ARGUMENT", `${field}: ${problem}`, {
      violations: [{ field, message: problem }],
    });
  }
  return value;
}

function requireAdminForImage(ctx: HandlerContext, fromImage: string | undefined): void {
  if (fromImage === undefined) return;
  if (roleAtLeast(actorOf(ctx)?.role ?? "operator", "admin")) return;
  throw new BlixardError("PERMISSION_DENIED", "fromImage: copying a host image needs the admin role", {
    violations: [{ field: "fromImage", message: "a host path needs the admin role" }],
  });
}

export function volumeServiceImpl(repo: VolumeRepository): ServiceImpl<typeof VolumeService> {
  return {
    async createVolume(req, ctx) {
      const parsed = parse(createSchema, {
        name: req.name,
        sizeBytes: Number(req.sizeBytes),
        ...(req.backend === "" ? {} : { backend: req.backend }),
        ...(req.pool === "" ? {} : { pool: req.pool }),
        ...(req.fromImage === "" ? {} : { fromImage: req.fromImage }),
        ...(req.node === "" ? {} : { node: req.node }),
      });
      requireAdminForImage(ctx, parsed.fromImage);
      const view = await repo.create(parsed, actorOf(ctx)?.name);
      return { volume: toInfo(view) };
    },
    async getVolume(req) {
      return { volume: toInfo(await repo.get(name("name", req.name))) };
    },
    async listVolumes() {
      const views = await repo.list();
      views.sort((a, b) => a.name.localeCompare(b.name));
      return { volumes: views.map(toInfo) };
    },
    async deleteVolume(req, ctx) {
      return { volume: toInfo(await repo.delete(name("name", req.name), actorOf(ctx)?.name)) };
    },
    async snapshotVolume(req, ctx) {
      const view = await repo.snapshot(
        name("name", req.name),
        name("snapshot", req.snapshot),
        actorOf(ctx)?.name,
      );
      return { volume: toInfo(view) };
    },
    async cloneVolume(req, ctx) {
      const view = await repo.clone(
        name("source", req.source),
        name("snapshot", req.snapshot),
        name("name", req.name),
        actorOf(ctx)?.name,
      );
      return { volume: toInfo(view) };
    },
  };
}

export function toInfo(view: VolumeView): VolumeInfo {
  const from = view.from;
  return create(VolumeInfoSchema, {
    name: view.name,
    backend: view.backend,
    pool: view.pool ?? "",
    sizeBytes: BigInt(view.sizeBytes),
    node: view.node,
    phase: view.phase,
    state: view.state,
    message: view.message,
    attachments: view.attachments.map((a) => ({
      vm: a.vm,
      readOnly: a.readOnly,
      node: "node" in a && typeof a.node === "string" ? a.node : "",
    })),
    snapshots: view.snapshots,
    createdAt: view.createdAt,
    id: view.id,
    from:
      from === undefined ? "" : "image" in from ? `image ${from.image}` : `${from.volume}@${from.snapshot}`,
  });
}
