/**
 * The VM spec: what a user asks for. Parsed once at the edge (API or CLI) with zod into a typed,
 * defaulted value; nothing deeper re-validates. Host-filesystem checks (does the kernel exist?) are
 * impure and live in the API's admission step, not here.
 */
import { z } from "zod";
import { consolePatternProblem } from "./console-pattern.js";
import { BlixardError, type FieldViolation } from "./errors.js";
import { microvmSpecSchema } from "./microvm-spec.js";
import { nameProblem } from "./names.js";
import { parseConstraint, STRATEGIES } from "./placement.js";
import { NETWORK_MODES } from "./vm-network.js";

export const DRIVERS = ["qemu", "microvm-nix"] as const;
export type DriverName = (typeof DRIVERS)[number];
export const RESTART_POLICIES = ["always", "on-failure", "never"] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

const vmName = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Host paths must be absolute and normalised so that they say exactly what they mean. */
const hostPath = z
  .string()
  .min(1, "must not be empty")
  .max(4096)
  .refine((p) => p.startsWith("/"), "must be an absolute path (the CLI resolves relative paths for you)")
  .refine((p) => !p.includes("\0"), "must not contain NUL bytes")
  .refine(
    (p) => !p.split("/").some((seg) => seg === ".." || seg === "."),
    "must not contain '.' or '..' segments",
  );

const port = z.int().min(1).max(65535);

/**
 * Ports below 1024 belong to privileged host services (sshd, DNS, a web server) that a VM must not
 * take over or shadow. Whether the port is free, and not the node's own, is checked at admission.
 */
export const MIN_FORWARD_HOST_PORT = 1024;
const hostPort = z
  .int()
  .min(
    MIN_FORWARD_HOST_PORT,
    `must be ${MIN_FORWARD_HOST_PORT} or above (lower ports are privileged host services); pick e.g. 8080`,
  )
  .max(65535);

export const portForwardSchema = z.strictObject({
  host: hostPort,
  guest: port,
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
});
export type PortForward = z.infer<typeof portForwardSchema>;

const healthTiming = {
  intervalSeconds: z.number().min(0.1).max(3600).default(2),
  timeoutSeconds: z.number().min(0.1).max(600).default(1),
  /** Consecutive failures before the VM is reported unhealthy. */
  failureThreshold: z.int().min(1).max(100).default(3),
  /** Failures during this period after a start do not count; the guest is still booting. */
  startPeriodSeconds: z.number().min(0).max(3600).default(120),
};

export const healthCheckSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("tcp"), port, ...healthTiming }),
  z.strictObject({
    type: z.literal("http"),
    port,
    path: z
      .string()
      .max(1024)
      .startsWith("/", "must start with '/'")
      // Spaces and control characters would split or extend the probe's HTTP request line.
      .refine(
        (p) => ![...p].some((c) => c <= " " || c === "\u007f"),
        "must not contain spaces or control characters",
      )
      .default("/"),
    ...healthTiming,
  }),
  z.strictObject({
    type: z.literal("console"),
    pattern: z
      .string()
      .min(1)
      .max(1024)
      .superRefine((p, ctx) => {
        const problem = consolePatternProblem(p);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    ...healthTiming,
  }),
]);
export type HealthCheck = z.infer<typeof healthCheckSchema>;

export const restartBackoffSchema = z
  .strictObject({
    initialSeconds: z.number().min(0.1).max(3600).default(1),
    maxSeconds: z.number().min(0.1).max(86400).default(60),
  })
  .refine((b) => b.maxSeconds >= b.initialSeconds, {
    message: "maxSeconds must be at least initialSeconds",
    path: ["maxSeconds"],
  });

/** Where the VM may run: constraints on node labels, a strategy (else the cluster's), or one node. */
export const placementSchema = z.strictObject({
  strategy: z.enum(STRATEGIES).optional(),
  constraints: z
    .array(
      z
        .string()
        .max(256)
        .refine(
          (c) => parseConstraint(c) !== undefined,
          "must be KEY=VALUE or KEY!=VALUE on a node label, e.g. zone=eu-1",
        ),
    )
    .max(32)
    .default([]),
  node: z
    .string()
    .refine((n) => nameProblem(n) === undefined, "must be a node id as `blixard node list` shows it")
    .optional(),
});

export type PlacementSpec = z.infer<typeof placementSchema>;

/** A volume a VM attaches: read-only ones may be shared by many VMs, a read-write one by none. */
export const volumeRefSchema = z.strictObject({
  name: vmName,
  readOnly: z.boolean().default(false),
  /** The VM's root disk (first virtio-blk device, `root=/dev/vda`); at most one, and not with `disk`. */
  boot: z.boolean().default(false),
});
export type VolumeRef = z.infer<typeof volumeRefSchema>;

const vmSpecBase = z.strictObject({
  name: vmName,
  vcpus: z.int().min(1).max(64).default(1),
  /** Guest memory in MiB. */
  memory: z
    .int()
    .min(32)
    .max(1024 * 1024)
    .default(256),
  driver: z.enum(DRIVERS).default("qemu"),
  /** Required by the qemu driver; a microvm-nix VM boots the kernel its NixOS configuration builds. */
  kernel: hostPath.optional(),
  initrd: hostPath.optional(),
  /** A base disk image; the VM writes to a copy-on-write overlay in its state dir, never to this file. */
  disk: hostPath.optional(),
  cmdline: z
    .string()
    .max(2048)
    .refine((s) => !/[\n\r\0]/.test(s), "must be a single line")
    .default(""),
  forwards: z.array(portForwardSchema).max(64).default([]),
  /** "user" (port forwards on the node's loopback) or "bridge" (a cluster address on the overlay). */
  network: z.enum(NETWORK_MODES).default("user"),
  healthCheck: healthCheckSchema.optional(),
  restartPolicy: z.enum(RESTART_POLICIES).default("always"),
  restartBackoff: restartBackoffSchema.default({ initialSeconds: 1, maxSeconds: 60 }),
  placement: placementSchema.default({ constraints: [] }),
  /** microvm-nix only: where the runner comes from and what a generated flake holds. */
  microvm: microvmSpecSchema.optional(),
  /**
   * Volumes (docs/volumes.md), attached as virtio-blk devices after the boot disk in this order; the
   * one marked `boot` is the root disk instead of `disk`. Absent when the VM has none.
   */
  volumes: z.array(volumeRefSchema).max(16).optional(),
});

export const vmSpecSchema = vmSpecBase.superRefine((spec, ctx) => {
  driverFields(spec, ctx);
  networkFields(spec, ctx);
  volumeFields(spec, ctx);
  const seen = new Set<string>();
  spec.forwards.forEach((f, i) => {
    const key = `${f.protocol}/${f.host}`;
    if (seen.has(key)) {
      ctx.addIssue({
        code: "custom",
        path: ["forwards", i, "host"],
        message: `host port ${key} is forwarded twice`,
      });
    }
    seen.add(key);
  });
  const check = spec.healthCheck;
  if (check && check.type !== "console" && spec.network === "user") {
    const forwarded = spec.forwards.some((f) => f.protocol === "tcp" && f.guest === check.port);
    if (!forwarded) {
      ctx.addIssue({
        code: "custom",
        path: ["healthCheck", "port"],
        message: `guest port ${check.port} is not forwarded; add a forward such as --forward 8080:${check.port}`,
      });
    }
  }
});

/**
 * Bridge mode gives the guest an address of its own, so there is nothing to forward: a port is
 * reached at the VM's address (or a service's). Only qemu VMs are plugged into the bridge so far.
 */
function networkFields(spec: z.infer<typeof vmSpecBase>, ctx: z.core.$RefinementCtx): void {
  if (spec.network !== "bridge") return;
  if (spec.forwards.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["forwards"],
      message:
        'a VM in bridge mode is reached at its own address, not through forwards; remove the forwards or use network = "user"',
    });
  }
  if (spec.driver !== "qemu") {
    ctx.addIssue({
      code: "custom",
      path: ["network"],
      message: 'bridge networking is offered for driver "qemu" only; use network = "user" with microvm-nix',
    });
  }
}

/** Each volume once, one boot volume at most and not beside a disk; the qemu driver only. */
function volumeFields(spec: z.infer<typeof vmSpecBase>, ctx: z.core.$RefinementCtx): void {
  const volumes = spec.volumes ?? [];
  const problem = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  const seen = new Set<string>();
  volumes.forEach((v, i) => {
    if (seen.has(v.name)) problem(["volumes", i, "name"], `volume ${v.name} is attached twice`);
    seen.add(v.name);
  });
  const boots = volumes.flatMap((v, i) => (v.boot ? [i] : []));
  if (boots.length > 1) problem(["volumes", boots[1]!, "boot"], "only one volume can be the boot disk");
  if (boots.length > 0 && spec.disk !== undefined) {
    problem(
      ["volumes", boots[0]!, "boot"],
      "a VM boots from its disk or from a volume, not both; remove disk",
    );
  }
  if (volumes.length > 0 && spec.driver !== "qemu") {
    problem(["volumes"], 'volumes are attached by the qemu driver only; set driver = "qemu"');
  }
}

/** The fields that only one driver understands must not be given to the other. */
function driverFields(spec: z.infer<typeof vmSpecBase>, ctx: z.core.$RefinementCtx): void {
  const problem = (path: string[], message: string) => ctx.addIssue({ code: "custom", path, message });
  if (spec.driver === "qemu") {
    if (spec.kernel === undefined) {
      problem(
        ["kernel"],
        "required by the qemu driver; pass --kernel PATH (or build the node's default image)",
      );
    }
    if (spec.microvm !== undefined) {
      problem(["microvm"], 'only the microvm-nix driver reads it; set driver = "microvm-nix" or remove it');
    }
    return;
  }
  for (const field of ["kernel", "initrd"] as const) {
    if (spec[field] !== undefined) {
      problem(
        [field],
        `the microvm-nix driver boots the ${field} its NixOS configuration builds; remove ${field} (set boot.kernelPackages in the configuration instead)`,
      );
    }
  }
  const hypervisor = spec.microvm?.hypervisor;
  if (spec.forwards.length > 0 && hypervisor !== undefined && hypervisor !== "qemu") {
    problem(
      ["forwards"],
      `port forwards use qemu's user networking, which ${hypervisor} lacks; use hypervisor qemu or a tap interface`,
    );
  }
  if (spec.forwards.length > 0 && spec.microvm?.runner !== undefined) {
    problem(
      ["forwards"],
      "a prebuilt runner is used as it is; set microvm.forwardPorts in its configuration",
    );
  }
  if (spec.disk !== undefined && spec.microvm?.runner !== undefined) {
    problem(
      ["disk"],
      "a prebuilt runner is used as it is; declare the disk in microvm.volumes of its configuration",
    );
  }
}

export type VmSpec = z.infer<typeof vmSpecSchema>;
export type VmSpecInput = z.input<typeof vmSpecSchema>;

/** Converts zod issues into field violations with dotted paths, prefixed by where the value came from. */
export function toViolations(error: z.ZodError, prefix = ""): FieldViolation[] {
  return error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter((s) => s !== "").join(".") || "(root)",
    message: issue.message,
  }));
}

/** Parses a spec, throwing INVALID_ARGUMENT that names every offending field. */
export function parseVmSpec(input: unknown, prefix = "spec"): VmSpec {
  const result = vmSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const violations = toViolations(result.error, prefix);
  const summary = violations.map((v) => `${v.field}: ${v.message}`).join("; ");
  throw new BlixardError("INVALID_ARGUMENT", `invalid VM spec: ${summary}`, { violations });
}

/**
 * Where a health check connects, given that the spec was validated: the forwarded port on the node's
 * loopback in user mode, the guest port at the VM's cluster address in bridge mode.
 */
export function healthCheckTarget(
  spec: VmSpec,
  address: string | undefined,
): { host: string; port: number } | undefined {
  const check = spec.healthCheck;
  if (!check || check.type === "console") return undefined;
  if (spec.network === "bridge")
    return address === undefined ? undefined : { host: address, port: check.port };
  const port = healthCheckHostPort(spec);
  return port === undefined ? undefined : { host: "127.0.0.1", port };
}

/**
 * The host port a health check connects to, given that the spec was validated. In bridge mode there
 * is none: the check connects to the VM's own address at the guest port.
 */
export function healthCheckHostPort(spec: VmSpec): number | undefined {
  const check = spec.healthCheck;
  if (!check || check.type === "console" || spec.network === "bridge") return undefined;
  return spec.forwards.find((f) => f.protocol === "tcp" && f.guest === check.port)?.host;
}
