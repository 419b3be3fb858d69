/** `blixard node` options, validated and defaulted once; everything inside trusts the compiled form. */
import { isIP } from "node:net";
import { z } from "zod";
import { BlixardError } from "../core/errors.js";
import { toViolations } from "../core/vm-spec.js";
import { defaultDataDir } from "./data-dir.js";

const bindSchema = z.string().transform((value, ctx) => {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !host || port > 65535) {
    ctx.addIssue({
      code: "custom",
      message: `"${value}" is not HOST:PORT (e.g. 127.0.0.1:7001 or [::1]:7001)`,
    });
    return z.NEVER;
  }
  return { host, port };
});

/** `sqlite` (the default, embedded) or `etcd://host:port[,host:port...][/prefix]` for an external cluster. */
const storeSchema = z.string().transform((value, ctx) => {
  if (value === "sqlite") return { kind: "sqlite" as const };
  const match = /^etcd:\/\/([^/]+)(\/.*)?$/.exec(value);
  const endpoints = match?.[1]?.split(",").filter((e) => e !== "") ?? [];
  if (
    !match ||
    endpoints.length === 0 ||
    endpoints.some((e) => !/^[^:\s]+:\d{1,5}$|^\[[^\]]+\]:\d{1,5}$/.test(e))
  ) {
    ctx.addIssue({
      code: "custom",
      message: `"${value}" is neither sqlite nor etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (e.g. etcd://10.0.0.1:2379,10.0.0.2:2379)`,
    });
    return z.NEVER;
  }
  return {
    kind: "etcd" as const,
    endpoints: endpoints.map((e) => `http://${e}`),
    namespace: match[2] && match[2] !== "/" ? match[2] : "",
  };
});

export const nodeOptionsSchema = z.strictObject({
  store: storeSchema.default({ kind: "sqlite" }),
  dataDir: z
    .string()
    .min(1)
    .default(() => defaultDataDir()),
  bind: bindSchema.default({ host: "127.0.0.1", port: 7001 }),
  accel: z.enum(["auto", "kvm", "tcg"]).default("auto"),
  stopVmsOnExit: z.boolean().default(false),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  gracefulStopSeconds: z.number().min(0.1).max(3600).default(10),
  labels: z.record(z.string(), z.string()).default({}),
  /** TTL of the node's liveness lease and of the leader's lease. */
  leaseTtlSeconds: z.int().min(2).max(300).default(5),
});

export type NodeOptions = z.infer<typeof nodeOptionsSchema>;

export function parseNodeOptions(input: Record<string, unknown>): NodeOptions {
  const result = nodeOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  const violations = toViolations(result.error);
  const summary = violations.map((v) => `--${kebab(v.field)}: ${v.message}`).join("; ");
  throw new BlixardError("INVALID_ARGUMENT", summary, { violations });
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

function kebab(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
