/**
 * The `microvm` part of a VM spec: what the microvm-nix driver needs beyond the fields every driver
 * shares (vcpus, memory, forwards, disk, cmdline). A VM comes from exactly one of three sources:
 * - a flake reference and a `nixosConfigurations` name (`path:/srv/vms#web`),
 * - a prebuilt runner directory (what `nix build …microvm.declaredRunner` produced),
 * - or, when neither is given, a flake that Blixard generates from these fields.
 * Every string here ends up in a generated Nix file or a path under the VM's state dir, so the
 * character sets are narrow on purpose: nothing can break out of a Nix string or out of the state dir.
 */
import { z } from "zod";

export const HYPERVISORS = ["qemu", "cloud-hypervisor", "firecracker"] as const;
export type Hypervisor = (typeof HYPERVISORS)[number];

export const INTERFACE_TYPES = ["user", "tap", "macvtap", "bridge"] as const;
export const MACVTAP_MODES = ["private", "vepa", "bridge", "passthru", "source"] as const;

/** The defaults of a generated flake; a spec may pin others (e.g. a tag or a local mirror). */
export const DEFAULT_NIXPKGS = "github:NixOS/nixpkgs/nixos-unstable";
export const DEFAULT_MICROVM_FLAKE = "github:astro/microvm.nix";

/** Absolute, normalised host path (as spec.kernel). */
const hostPath = z
  .string()
  .min(1, "must not be empty")
  .max(4096)
  .refine((p) => p.startsWith("/"), "must be an absolute path (the CLI resolves relative paths for you)")
  .refine((p) => !/[\0\n\r"$\\`]/.test(p), "must not contain NUL, newlines, quotes, '$', '\\' or '`'")
  .refine(
    (p) => !p.split("/").some((seg) => seg === ".." || seg === "."),
    "must not contain '.' or '..' segments",
  );

/** A path inside the guest: absolute, and plain enough to sit in a Nix string. */
const guestPath = z
  .string()
  .max(1024)
  .regex(/^\/[A-Za-z0-9._/@+-]*$/, "must be an absolute guest path of letters, digits and ._/@+-")
  .refine((p) => !p.split("/").some((seg) => seg === ".."), "must not contain '..' segments");

/**
 * A flake reference as `nix build` takes it, with an optional `#name` naming the nixosConfiguration.
 * Refs that contain a shell or Nix metacharacter are refused even though they never reach a shell:
 * they are written into a generated flake.nix as a Nix string.
 */
export const flakeRef = z
  .string()
  .min(1)
  .max(2048)
  .regex(
    /^[A-Za-z0-9+.-]+:[A-Za-z0-9._~:/?&=%@+,-]+(#[A-Za-z0-9_.-]+)?$|^\/[A-Za-z0-9._~/@+,-]*(#[A-Za-z0-9_.-]+)?$/,
    "must be a flake reference such as path:/srv/vms#web, github:owner/repo#web or git+https://host/repo?ref=main#web",
  );

/** A file name inside the VM's state dir; it can never name anything outside it. */
const stateFile = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a plain file name (it is created in the VM's state dir)");

const macAddress = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, "must be a lower-case MAC address such as 02:00:00:00:00:01");

/** A host interface name: Linux allows 15 bytes (IFNAMSIZ - 1). */
const ifName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/,
    "must be 1 to 15 letters, digits and _.- (a Linux interface name)",
  );

export const microvmInterfaceSchema = z
  .strictObject({
    type: z.enum(INTERFACE_TYPES),
    id: ifName,
    mac: macAddress,
    /** type = "bridge": the host bridge to attach to. */
    bridge: ifName.optional(),
    /** type = "macvtap": the host link and the MACVLAN mode. */
    macvtap: z.strictObject({ link: ifName, mode: z.enum(MACVTAP_MODES) }).optional(),
  })
  .superRefine((iface, ctx) => {
    if (iface.type === "bridge" && iface.bridge === undefined) {
      ctx.addIssue({ code: "custom", path: ["bridge"], message: "a bridge interface needs the host bridge" });
    }
    if (iface.type === "macvtap" && iface.macvtap === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["macvtap"],
        message: "a macvtap interface needs macvtap.link and macvtap.mode",
      });
    }
  });

export const microvmShareSchema = z.strictObject({
  tag: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1 to 32 letters, digits, _ and -"),
  source: hostPath,
  mountPoint: guestPath,
  proto: z.enum(["9p", "virtiofs"]).default("9p"),
});

export const microvmVolumeSchema = z.strictObject({
  /** The image file, created in the VM's state dir by microvm-run when missing. */
  image: stateFile,
  mountPoint: guestPath,
  /** MiB, used when microvm.nix creates the image. */
  size: z
    .int()
    .min(1)
    .max(16 * 1024 * 1024),
  fsType: z.enum(["ext4", "xfs", "btrfs"]).default("ext4"),
  readOnly: z.boolean().default(false),
});

export const microvmSpecSchema = z
  .strictObject({
    /** A flake reference, `#name` picking the nixosConfiguration (the VM's name when left out). */
    flake: flakeRef.optional(),
    /** A runner directory built already (bin/microvm-run, share/microvm/…); nothing is built. */
    runner: hostPath.optional(),
    /** The hypervisor of a generated flake (qemu when unset); overrides a flake's own when given. */
    hypervisor: z.enum(HYPERVISORS).optional(),
    nixpkgs: flakeRef.default(DEFAULT_NIXPKGS),
    microvmFlake: flakeRef.default(DEFAULT_MICROVM_FLAKE),
    /** NixOS module files, copied into the generated flake and imported. */
    modules: z.array(hostPath).max(32).default([]),
    /** Inline NixOS configuration: the body of a module's attribute set (`services.nginx.enable = true;`). */
    config: z
      .string()
      .max(64 * 1024)
      .refine((s) => !s.includes("\0"), "must not contain NUL bytes")
      .default(""),
    interfaces: z.array(microvmInterfaceSchema).max(16).default([]),
    shares: z.array(microvmShareSchema).max(32).default([]),
    volumes: z.array(microvmVolumeSchema).max(32).default([]),
  })
  .superRefine((m, ctx) => {
    const problem = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: "custom", path, message });
    if (m.flake !== undefined && m.runner !== undefined) {
      problem(["runner"], "give either a flake to build or a runner built already, not both");
    }
    if (m.runner !== undefined) {
      // A built runner is fixed: nothing the spec says about its contents could take effect.
      const fixed: [string, boolean][] = [
        ["hypervisor", m.hypervisor !== undefined],
        ["modules", m.modules.length > 0],
        ["config", m.config !== ""],
        ["interfaces", m.interfaces.length > 0],
        ["shares", m.shares.length > 0],
        ["volumes", m.volumes.length > 0],
      ];
      for (const [field, set] of fixed) {
        if (set) problem([field], "a prebuilt runner is used as it is; set this in its NixOS configuration");
      }
    }
    unique(m.interfaces, (i) => i.id, ["interfaces"], "id", problem);
    unique(m.interfaces, (i) => i.mac, ["interfaces"], "mac", problem);
    unique(m.shares, (s) => s.tag, ["shares"], "tag", problem);
    unique(m.volumes, (v) => v.image, ["volumes"], "image", problem);
  });

export type MicrovmSpec = z.infer<typeof microvmSpecSchema>;
export type MicrovmInterface = z.infer<typeof microvmInterfaceSchema>;
export type MicrovmShare = z.infer<typeof microvmShareSchema>;
export type MicrovmVolume = z.infer<typeof microvmVolumeSchema>;

function unique<T>(
  items: T[],
  key: (item: T) => string,
  path: string[],
  field: string,
  problem: (path: (string | number)[], message: string) => void,
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) problem([...path, i, field], `${field} ${k} is used twice`);
    seen.add(k);
  });
}

/** Where a microvm-nix VM's runner comes from. */
export type RunnerSource =
  | { kind: "runner"; path: string }
  | { kind: "flake"; ref: string; config: string }
  | { kind: "generated" };

/** `path:/srv/vms#web` → ref `path:/srv/vms`, config `web`; without `#`, the VM's name. */
export function runnerSource(vmName: string, m: MicrovmSpec): RunnerSource {
  if (m.runner !== undefined) return { kind: "runner", path: m.runner };
  if (m.flake !== undefined) {
    const hash = m.flake.indexOf("#");
    return hash < 0
      ? { kind: "flake", ref: m.flake, config: vmName }
      : { kind: "flake", ref: m.flake.slice(0, hash), config: m.flake.slice(hash + 1) };
  }
  return { kind: "generated" };
}

/** The defaults a spec without a `microvm` table gets. */
export function defaultMicrovm(): MicrovmSpec {
  return microvmSpecSchema.parse({});
}
