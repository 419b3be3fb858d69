/**
 * Builds the wire VmSpec from `vm create` flags and an optional spec file (TOML, YAML or JSON).
 * Relative paths resolve against the spec file's directory (for file fields) or the working directory
 * (for flags), since the node reads them as absolute host paths. Field validation happens on the server,
 * once; here we only reject what cannot be expressed in the wire format (unknown keys, wrong JSON types).
 */
import { readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { type VmSpec, VmSpecSchema } from "../gen/blixard/v1/vm_pb.js";
import { type MicrovmFlags, microvmFromFlags, resolveMicrovmPaths } from "./microvm-flags.js";
import { UsageError } from "./usage-error.js";

export interface CreateFlags extends MicrovmFlags {
  file?: string;
  vcpus?: string;
  memory?: string;
  kernel?: string;
  initrd?: string;
  disk?: string;
  cmdline?: string;
  forward?: string[];
  restart?: string;
  constraint?: string[];
  strategy?: string;
  node?: string;
  driver?: string;
}

const PATH_FIELDS = ["kernel", "initrd", "disk"] as const;

export function buildSpec(name: string, flags: CreateFlags, cwd = process.cwd()): VmSpec {
  const fromFile = flags.file ? readSpecFile(resolve(cwd, flags.file)) : {};
  if (fromFile["name"] !== undefined && fromFile["name"] !== name) {
    throw new UsageError(
      `the spec file names the VM "${String(fromFile["name"])}" but the command names it "${name}"`,
    );
  }
  const merged: Record<string, unknown> = { ...fromFile, name };
  if (flags.vcpus !== undefined) merged["vcpus"] = integerFlag("--vcpus", flags.vcpus);
  if (flags.memory !== undefined) merged["memory"] = integerFlag("--memory", flags.memory);
  for (const field of PATH_FIELDS) {
    const value = flags[field];
    if (value !== undefined) merged[field] = resolve(cwd, value);
  }
  if (flags.cmdline !== undefined) merged["cmdline"] = flags.cmdline;
  if (flags.restart !== undefined) merged["restartPolicy"] = flags.restart;
  if (flags.forward?.length) merged["forwards"] = [...asArray(merged["forwards"]), ...flags.forward];
  merged["forwards"] = asArray(merged["forwards"]).map(parseForward);
  if (flags.constraint?.length || flags.strategy !== undefined || flags.node !== undefined) {
    const placement = { ...(merged["placement"] as Record<string, unknown> | undefined) };
    if (flags.constraint?.length) {
      placement["constraints"] = [
        ...((placement["constraints"] as unknown[] | undefined) ?? []),
        ...flags.constraint,
      ];
    }
    if (flags.strategy !== undefined) placement["strategy"] = flags.strategy;
    if (flags.node !== undefined) placement["node"] = flags.node;
    merged["placement"] = placement;
  }
  if (flags.driver !== undefined) merged["driver"] = flags.driver;
  const microvm = microvmFromFlags(flags, cwd);
  if (microvm)
    merged["microvm"] = { ...(merged["microvm"] as Record<string, unknown> | undefined), ...microvm };
  // A spec that says how to build a microvm-nix VM means that driver.
  if (merged["microvm"] !== undefined) merged["driver"] ??= "microvm-nix";
  try {
    return fromJson(VmSpecSchema, merged as JsonObject);
  } catch (err) {
    throw new UsageError(`invalid spec: ${(err as Error).message}`);
  }
}

function readSpecFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(
      `cannot read spec file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let parsed: unknown;
  try {
    const ext = extname(path).toLowerCase();
    if (ext === ".toml") parsed = parseToml(text);
    else if (ext === ".yaml" || ext === ".yml") parsed = parseYaml(text);
    else if (ext === ".json") parsed = JSON.parse(text);
    else throw new Error(`unknown extension "${ext}"; use .toml, .yaml, .yml or .json`);
  } catch (err) {
    throw new UsageError(`cannot parse spec file ${path}: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(`spec file ${path} must hold a table/object of spec fields`);
  }
  const spec = parsed as Record<string, unknown>;
  for (const field of PATH_FIELDS) {
    const value = spec[field];
    if (typeof value === "string" && value !== "" && !isAbsolute(value))
      spec[field] = resolve(dirname(path), value);
  }
  const microvm = spec["microvm"];
  if (microvm && typeof microvm === "object" && !Array.isArray(microvm)) {
    resolveMicrovmPaths(microvm as Record<string, unknown>, dirname(path));
  }
  return spec;
}

function integerFlag(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number (got "${value}")`);
  return Number(value);
}

function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new UsageError("forwards must be a list");
  return value;
}

/** Accepts "HOST:GUEST", "HOST:GUEST/udp" or an object with host, guest and protocol. */
export function parseForward(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const match = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(value);
  if (!match) throw new UsageError(`--forward "${value}" must be HOST:GUEST, e.g. 8080:80 (optionally /udp)`);
  return { host: Number(match[1]), guest: Number(match[2]), protocol: match[3] ?? "tcp" };
}
