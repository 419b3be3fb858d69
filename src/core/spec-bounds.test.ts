/**
 * Every string and list in a VM spec has a maximum, and unknown fields are refused by name at every
 * level. The attack: a request that grows the store without limit (a 200 MB cmdline was once accepted)
 * or a typo that silently becomes a default (`vcpu = 8` giving one vcpu).
 */
import { describe, expect, it } from "vitest";
import { BlixardError } from "./errors.js";
import { parseVmSpec } from "./vm-spec.js";

const qemu = { name: "web", kernel: "/k" };
const nix = { name: "web", driver: "microvm-nix" };
const huge = "a".repeat(70_000);

function refused(input: unknown): string[] {
  try {
    parseVmSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(BlixardError);
    return (err as BlixardError).violations.map((v) => `${v.field}: ${v.message}`);
  }
  throw new Error("expected the spec to be refused");
}

describe("spec bounds", () => {
  it.each<[string, Record<string, unknown>]>([
    ["spec.name", { ...qemu, name: huge }],
    ["spec.kernel", { ...qemu, kernel: `/${huge}` }],
    ["spec.initrd", { ...qemu, initrd: `/${huge}` }],
    ["spec.disk", { ...qemu, disk: `/${huge}` }],
    ["spec.cmdline", { ...qemu, cmdline: huge }],
    [
      "spec.healthCheck.path",
      {
        ...qemu,
        forwards: [{ host: 8080, guest: 80 }],
        healthCheck: { type: "http", port: 80, path: `/${huge}` },
      },
    ],
    ["spec.healthCheck.pattern", { ...qemu, healthCheck: { type: "console", pattern: huge } }],
    ["spec.placement.constraints.0", { ...qemu, placement: { constraints: [`zone=${huge}`] } }],
    ["spec.placement.node", { ...qemu, placement: { node: huge } }],
    ["spec.microvm.flake", { ...nix, microvm: { flake: `path:/${huge}` } }],
    ["spec.microvm.runner", { ...nix, microvm: { runner: `/${huge}` } }],
    ["spec.microvm.nixpkgs", { ...nix, microvm: { nixpkgs: `github:${huge}` } }],
    ["spec.microvm.modules.0", { ...nix, microvm: { modules: [`/${huge}`] } }],
    ["spec.microvm.config", { ...nix, microvm: { config: "x".repeat(65 * 1024) } }],
    [
      "spec.microvm.shares.0.mountPoint",
      { ...nix, microvm: { shares: [{ tag: "t", source: "/s", mountPoint: `/${huge}` }] } },
    ],
    [
      "spec.microvm.volumes.0.image",
      { ...nix, microvm: { volumes: [{ image: huge, mountPoint: "/v", size: 1 }] } },
    ],
    [
      "spec.microvm.interfaces.0.id",
      { ...nix, microvm: { interfaces: [{ type: "user", id: huge, mac: "02:00:00:00:00:01" }] } },
    ],
  ])("refuses an over-long %s, naming it", (field, spec) => {
    expect(refused(spec).some((v) => v.startsWith(`${field}:`))).toBe(true);
  });

  const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  it.each<[string, Record<string, unknown>]>([
    ["spec.forwards", { ...qemu, forwards: many(65, (i) => ({ host: 10000 + i, guest: 80 })) }],
    ["spec.placement.constraints", { ...qemu, placement: { constraints: many(33, (i) => `k${i}=v`) } }],
    ["spec.microvm.modules", { ...nix, microvm: { modules: many(33, (i) => `/m${i}.nix`) } }],
    [
      "spec.microvm.shares",
      { ...nix, microvm: { shares: many(33, (i) => ({ tag: `t${i}`, source: "/s", mountPoint: "/m" })) } },
    ],
    [
      "spec.microvm.volumes",
      { ...nix, microvm: { volumes: many(33, (i) => ({ image: `v${i}`, mountPoint: "/v", size: 1 })) } },
    ],
    [
      "spec.microvm.interfaces",
      {
        ...nix,
        microvm: {
          interfaces: many(17, (i) => ({
            type: "user",
            id: `e${i}`,
            mac: `02:00:00:00:00:${String(i).padStart(2, "0")}`,
          })),
        },
      },
    ],
  ])("refuses an over-long list %s, naming it", (field, spec) => {
    expect(refused(spec).some((v) => v.startsWith(`${field}:`))).toBe(true);
  });

  it.each<[string, Record<string, unknown>]>([
    ["spec", { ...qemu, vcpu: 8 }],
    ["spec.healthCheck", { ...qemu, healthCheck: { type: "console", pattern: "x", intervall: 1 } }],
    ["spec.forwards.0", { ...qemu, forwards: [{ host: 8080, guest: 80, proto: "udp" }] }],
    ["spec.placement", { ...qemu, placement: { zone: "eu" } }],
    ["spec.restartBackoff", { ...qemu, restartBackoff: { initial: 1 } }],
    ["spec.microvm", { ...nix, microvm: { runnner: "/r" } }],
    [
      "spec.microvm.volumes.0",
      { ...nix, microvm: { volumes: [{ image: "v", mountPoint: "/v", size: 1, owner: "root" }] } },
    ],
  ])("refuses an unknown field in %s, naming the field", (field, spec) => {
    const violations = refused(spec);
    expect(violations.some((v) => v.startsWith(`${field}:`) && /[Uu]nrecognized key/.test(v))).toBe(true);
  });

  it.each([1, 22, 80, 443, 1023])(
    "refuses forwarding privileged host port %i, saying which ports are allowed",
    (host) => {
      expect(refused({ ...qemu, forwards: [{ host, guest: 80 }] })).toEqual([
        "spec.forwards.0.host: must be 1024 or above (lower ports are privileged host services); pick e.g. 8080",
      ]);
    },
  );

  it("accepts host port 1024 and above", () => {
    expect(parseVmSpec({ ...qemu, forwards: [{ host: 1024, guest: 22 }] }).forwards[0]!.host).toBe(1024);
  });

  it("refuses an http health check path with spaces or control characters (they would split the request line)", () => {
    const spec = { ...qemu, forwards: [{ host: 8080, guest: 80 }] };
    for (const path of ["/a b", "/x\r\nHost: evil", "/\u0000"]) {
      expect(refused({ ...spec, healthCheck: { type: "http", port: 80, path } })).toEqual([
        "spec.healthCheck.path: must not contain spaces or control characters",
      ]);
    }
  });
});
