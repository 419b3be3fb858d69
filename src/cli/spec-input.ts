/**
 * Builds the wire VmSpec from `vm create`/`vm update` flags and an optional spec file (TOML, YAML or
 * JSON), and reads the several specs of an `apply -f` file.
 * Relative paths resolve against the spec file's directory (for file fields) or the working directory
 * (for flags), since the node reads them as absolute host paths. Field validation happens on the server,
 * once; here we only reject what cannot be expressed in the wire format (unknown keys, wrong JSON types).
 */
import { readFileSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { parse as parseToml } from "smol-toml";
import { parseAllDocuments } from "yaml";
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
  network?: string;
}

const PATH_FIELDS = ["kernel", "initrd", "disk"] as const;

export function buildSpec(name: string, flags: CreateFlags, cwd = process.cwd()): VmSpec {
  const fromFile = flags.file ? readSpecFile(resolve(cwd, flags.file)) : {};
  if (fromFile["name"] !== undefined && fromFile["name"] !== name) {
    throw new UsageError(
      `the spec file names the VM "${String(fromFile["name"])}" but the command names it "${name}"`,
    );
  }
  return withFlags({ ...fromFile, name }, flags, cwd);
}

/**
 * `base` (spec fields in proto3 JSON form) with the flags laid over it, as a wire spec. `vm update`
 * passes the VM's current spec as `base`, so that fields without a flag keep their values.
 */
export function withFlags(base: Record<string, unknown>, flags: CreateFlags, cwd = process.cwd()): VmSpec {
  const merged: Record<string, unknown> = { ...base };
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
  if (flags.network !== undefined) merged["network"] = flags.network;
  // `--volume` is shared with microvm.nix's runner volumes (image=…,mount=…): a value without `=`
  // names a Blixard volume.
  const named = (flags.volume ?? []).filter((v) => !v.includes("="));
  if (named.length > 0) {
    merged["volumes"] = [...asArray(merged["volumes"], "volumes"), ...named.map(parseVolumeFlag)];
    flags = { ...flags, volume: (flags.volume ?? []).filter((v) => v.includes("=")) };
  }
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
  const documents = readSpecDocuments(path);
  if (documents.length !== 1) {
    throw new UsageError(
      `spec file ${path} holds ${documents.length} documents; \`vm create -f\` takes one (use \`blixard apply -f\` for several)`,
    );
  }
  return documents[0]!;
}

/**
 * The specs in a file, each a table/object of spec fields with its paths made absolute: YAML documents
 * separated by `---`, a TOML file of `[[vm]]` tables, a JSON array; or a single spec in any of them.
 */
export function readSpecDocuments(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(
      `cannot read spec file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let parsed: unknown[];
  try {
    parsed = parseDocuments(extname(path).toLowerCase(), text);
  } catch (err) {
    throw new UsageError(`cannot parse spec file ${path}: ${(err as Error).message}`);
  }
  if (parsed.length === 0) throw new UsageError(`spec file ${path} holds no spec`);
  return parsed.map((doc, i) => {
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
      const which = parsed.length > 1 ? `document ${i + 1} of spec file ${path}` : `spec file ${path}`;
      throw new UsageError(`${which} must hold a table/object of spec fields`);
    }
    return resolveFilePaths(doc as Record<string, unknown>, path);
  });
}

function parseDocuments(ext: string, text: string): unknown[] {
  if (ext === ".toml") {
    const table = parseToml(text);
    const keys = Object.keys(table);
    // `[[vm]]` tables: several specs (a spec has no field named vm).
    if (keys.length === 1 && keys[0] === "vm" && Array.isArray(table["vm"])) return table["vm"];
    return [table];
  }
  if (ext === ".yaml" || ext === ".yml") {
    return parseAllDocuments(text)
      .map((doc) => {
        if (doc.errors.length > 0) throw doc.errors[0];
        return doc.toJSON() as unknown;
      })
      .filter((doc) => doc !== null && doc !== undefined);
  }
  if (ext === ".json") {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value : [value];
  }
  throw new Error(`unknown extension "${ext}"; use .toml, .yaml, .yml or .json`);
}

function resolveFilePaths(spec: Record<string, unknown>, path: string): Record<string, unknown> {
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

function asArray(value: unknown, what = "forwards"): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new UsageError(`${what} must be a list`);
  return value;
}

/** Accepts "HOST:GUEST", "HOST:GUEST/udp" or an object with host, guest and protocol. */
export function parseForward(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const match = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(value);
  if (!match) throw new UsageError(`--forward "${value}" must be HOST:GUEST, e.g. 8080:80 (optionally /udp)`);
  return { host: Number(match[1]), guest: Number(match[2]), protocol: match[3] ?? "tcp" };
}

/** `--volume NAME[:ro][:boot]`: a volume the VM attaches, read-only and/or as its root disk. */
export function parseVolumeFlag(value: string): { name: string; readOnly: boolean; boot: boolean } {
  const [name = "", ...options] = value.split(":");
  const unknown = options.filter((o) => o !== "ro" && o !== "boot");
  if (name === "" || unknown.length > 0) {
    throw new UsageError(`--volume "${value}" must be NAME, NAME:ro, NAME:boot or NAME:ro:boot`);
  }
  return { name, readOnly: options.includes("ro"), boot: options.includes("boot") };
}
