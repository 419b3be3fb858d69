/**
 * The `vm create` flags of the microvm-nix driver, turned into the wire spec's `microvm` table, and
 * the resolution of the relative paths in it. The node reads every path as an absolute host path and
 * builds flakes from its own working directory, so a relative path or `path:./vms#web` is made
 * absolute here, against the working directory (flags) or the spec file's directory (files).
 * Field validation stays on the server; here only the flag syntax is checked.
 */
import { isAbsolute, resolve } from "node:path";
import { UsageError } from "./usage-error.js";

export interface MicrovmFlags {
  flake?: string;
  runner?: string;
  hypervisor?: string;
  nixosModule?: string[];
  nixosConfig?: string;
  share?: string[];
  volume?: string[];
  interface?: string[];
}

export function microvmFromFlags(flags: MicrovmFlags, cwd: string): Record<string, unknown> | undefined {
  const m: Record<string, unknown> = {};
  if (flags.flake !== undefined) m["flake"] = resolveFlakeRef(flags.flake, cwd);
  if (flags.runner !== undefined) m["runner"] = resolve(cwd, flags.runner);
  if (flags.hypervisor !== undefined) m["hypervisor"] = flags.hypervisor;
  if (flags.nixosModule?.length) m["modules"] = flags.nixosModule.map((f) => resolve(cwd, f));
  if (flags.nixosConfig !== undefined) m["config"] = flags.nixosConfig;
  if (flags.share?.length) m["shares"] = flags.share.map((v) => share(v, cwd));
  if (flags.volume?.length) m["volumes"] = flags.volume.map(volume);
  if (flags.interface?.length) m["interfaces"] = flags.interface.map(networkInterface);
  return Object.keys(m).length > 0 ? m : undefined;
}

/** Makes the paths of a spec file's `microvm` table absolute, against the file's directory. */
export function resolveMicrovmPaths(m: Record<string, unknown>, dir: string): void {
  if (typeof m["flake"] === "string") m["flake"] = resolveFlakeRef(m["flake"], dir);
  if (typeof m["runner"] === "string" && !isAbsolute(m["runner"])) m["runner"] = resolve(dir, m["runner"]);
  if (Array.isArray(m["modules"])) {
    m["modules"] = m["modules"].map((f: unknown) => (typeof f === "string" ? resolve(dir, f) : f));
  }
  if (Array.isArray(m["shares"])) {
    for (const s of m["shares"] as unknown[]) {
      if (s && typeof s === "object" && typeof (s as Record<string, unknown>)["source"] === "string") {
        const share = s as Record<string, string>;
        share["source"] = resolve(dir, share["source"]!);
      }
    }
  }
}

/**
 * `./vms#web` → `/cwd/vms#web`, `path:vms#web` → `path:/cwd/vms#web`; absolute paths and URLs
 * (github:, git+https:, …) are left alone.
 */
export function resolveFlakeRef(ref: string, cwd: string): string {
  const hash = ref.indexOf("#");
  const base = hash < 0 ? ref : ref.slice(0, hash);
  const fragment = hash < 0 ? "" : ref.slice(hash);
  if (base.startsWith("path:")) {
    const path = base.slice("path:".length);
    return `path:${isAbsolute(path) ? path : resolve(cwd, path)}${fragment}`;
  }
  if (base === "." || base.startsWith("./") || base.startsWith("../"))
    return `${resolve(cwd, base)}${fragment}`;
  return ref;
}

/** `key=value,key=value` into an object; every key must be known. */
function keyValues(flag: string, value: string, known: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? "" : part.slice(0, eq);
    if (!known.includes(key)) {
      throw new UsageError(
        `${flag} "${value}": "${part}" is not one of ${known.map((k) => `${k}=…`).join(", ")}`,
      );
    }
    out[key] = part.slice(eq + 1);
  }
  return out;
}

/** `source=/srv/data,mount=/data[,tag=data][,proto=virtiofs]`; the tag defaults to the mount's last segment. */
function share(value: string, cwd: string): Record<string, unknown> {
  const kv = keyValues("--share", value, ["source", "mount", "tag", "proto"]);
  if (!kv["source"] || !kv["mount"]) {
    throw new UsageError(
      `--share "${value}" needs source=HOST_DIR and mount=GUEST_DIR, e.g. source=/srv/data,mount=/data`,
    );
  }
  const tag =
    kv["tag"] ??
    (kv["mount"]
      .split("/")
      .filter((s) => s !== "")
      .pop()
      ?.replace(/[^A-Za-z0-9_-]/g, "-") ||
      "root");
  return {
    tag,
    source: resolve(cwd, kv["source"]),
    mountPoint: kv["mount"],
    ...(kv["proto"] ? { proto: kv["proto"] } : {}),
  };
}

/** `image=var.img,mount=/var,size=256[,fs=ext4]`. */
function volume(value: string): Record<string, unknown> {
  const kv = keyValues("--volume", value, ["image", "mount", "size", "fs"]);
  if (!kv["image"] || !kv["mount"] || !kv["size"] || !/^\d+$/.test(kv["size"])) {
    throw new UsageError(
      `--volume "${value}" needs image=FILE,mount=GUEST_DIR,size=MIB, e.g. image=var.img,mount=/var,size=256`,
    );
  }
  return {
    image: kv["image"],
    mountPoint: kv["mount"],
    size: Number(kv["size"]),
    ...(kv["fs"] ? { fsType: kv["fs"] } : {}),
  };
}

/** `type=tap,id=vm-web,mac=02:00:00:00:00:01[,bridge=br0][,link=eth0,mode=bridge]`. */
function networkInterface(value: string): Record<string, unknown> {
  const kv = keyValues("--interface", value, ["type", "id", "mac", "bridge", "link", "mode"]);
  if (!kv["type"] || !kv["id"] || !kv["mac"]) {
    throw new UsageError(
      `--interface "${value}" needs type=…,id=…,mac=…, e.g. type=tap,id=vm-web,mac=02:00:00:00:00:01`,
    );
  }
  return {
    type: kv["type"],
    id: kv["id"],
    mac: kv["mac"],
    ...(kv["bridge"] ? { bridge: kv["bridge"] } : {}),
    ...(kv["link"] || kv["mode"] ? { macvtap: { link: kv["link"] ?? "", mode: kv["mode"] ?? "" } } : {}),
  };
}
