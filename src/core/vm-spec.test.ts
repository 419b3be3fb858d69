import { describe, expect, it } from "vitest";
import { BlixardError } from "./errors.js";
import { DEFAULT_NIXPKGS, runnerSource } from "./microvm-spec.js";
import { healthCheckHostPort, parseVmSpec } from "./vm-spec.js";

const minimal = { name: "web", kernel: "/images/vmlinuz" };

function violations(input: unknown): string[] {
  try {
    parseVmSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(BlixardError);
    expect((err as BlixardError).code).toBe("INVALID_ARGUMENT");
    return (err as BlixardError).violations.map((v) => v.field);
  }
  throw new Error("expected the spec to be rejected");
}

describe("VM spec", () => {
  it("fills defaults for a minimal spec", () => {
    const spec = parseVmSpec(minimal);
    expect(spec).toMatchObject({
      vcpus: 1,
      memory: 256,
      driver: "qemu",
      cmdline: "",
      forwards: [],
      restartPolicy: "always",
      restartBackoff: { initialSeconds: 1, maxSeconds: 60 },
    });
  });

  it.each([
    ["Web", "uppercase"],
    ["-web", "leading dash"],
    ["web-", "trailing dash"],
    ["a".repeat(64), "64 characters"],
    ["../etc", "path traversal"],
    ["we_b", "underscore"],
    ["", "empty"],
  ])("rejects the name %j (%s)", (name) => {
    expect(violations({ ...minimal, name })).toEqual(["spec.name"]);
  });

  it("accepts a 63-character DNS label", () => {
    expect(parseVmSpec({ ...minimal, name: `a${"-b".repeat(31)}` }).name).toHaveLength(63);
  });

  it.each([["relative/vmlinuz"], ["/images/../etc/shadow"], ["/images/./vmlinuz"]])(
    "rejects the kernel path %j",
    (kernel) => {
      expect(violations({ ...minimal, kernel })).toEqual(["spec.kernel"]);
    },
  );

  it("names every offending field at once", () => {
    expect(violations({ ...minimal, vcpus: 0, memory: 1, driver: "xen" }).sort()).toEqual([
      "spec.driver",
      "spec.memory",
      "spec.vcpus",
    ]);
  });

  it("rejects unknown fields so typos are not silently ignored", () => {
    expect(violations({ ...minimal, vcpu: 2 })).toEqual(["spec"]);
  });

  it("rejects a host port forwarded twice", () => {
    const forwards = [
      { host: 8080, guest: 80 },
      { host: 8080, guest: 81 },
    ];
    expect(violations({ ...minimal, forwards })).toEqual(["spec.forwards.1.host"]);
  });

  it("requires a tcp health check's port to be forwarded", () => {
    expect(violations({ ...minimal, healthCheck: { type: "tcp", port: 80 } })).toEqual([
      "spec.healthCheck.port",
    ]);
  });

  it("maps a health check's guest port to its forwarded host port", () => {
    const spec = parseVmSpec({
      ...minimal,
      forwards: [{ host: 18080, guest: 80 }],
      healthCheck: { type: "http", port: 80 },
    });
    expect(healthCheckHostPort(spec)).toBe(18080);
    expect(spec.healthCheck).toMatchObject({ path: "/", failureThreshold: 3 });
  });

  it("rejects an invalid console pattern", () => {
    expect(violations({ ...minimal, healthCheck: { type: "console", pattern: "(" } })).toEqual([
      "spec.healthCheck.pattern",
    ]);
  });

  it("rejects a multi-line cmdline", () => {
    expect(violations({ ...minimal, cmdline: "quiet\ninit=/bin/sh" })).toEqual(["spec.cmdline"]);
  });

  it("rejects a backoff whose max is below its initial delay", () => {
    expect(violations({ ...minimal, restartBackoff: { initialSeconds: 10, maxSeconds: 1 } })).toEqual([
      "spec.restartBackoff.maxSeconds",
    ]);
  });
});

describe("VM spec for the microvm-nix driver", () => {
  const nix = { name: "web", driver: "microvm-nix" };

  it("needs no kernel and generates a flake when neither a flake nor a runner is given", () => {
    const spec = parseVmSpec({ ...nix, microvm: {} });
    expect(spec.kernel).toBeUndefined();
    expect(runnerSource(spec.name, spec.microvm!)).toEqual({ kind: "generated" });
    expect(spec.microvm).toMatchObject({ nixpkgs: DEFAULT_NIXPKGS, modules: [], shares: [], volumes: [] });
  });

  it("reads the nixosConfigurations name from the flake reference, defaulting to the VM's name", () => {
    const named = parseVmSpec({ ...nix, microvm: { flake: "path:/srv/vms#api" } });
    expect(runnerSource("web", named.microvm!)).toEqual({
      kind: "flake",
      ref: "path:/srv/vms",
      config: "api",
    });
    const unnamed = parseVmSpec({ ...nix, microvm: { flake: "github:me/vms" } });
    expect(runnerSource("web", unnamed.microvm!)).toEqual({
      kind: "flake",
      ref: "github:me/vms",
      config: "web",
    });
  });

  it("still requires a kernel for the qemu driver", () => {
    expect(violations({ name: "web" })).toEqual(["spec.kernel"]);
  });

  it.each([
    [{ ...nix, kernel: "/images/vmlinuz" }, ["spec.kernel"]],
    [{ ...minimal, microvm: {} }, ["spec.microvm"]],
    [{ ...nix, microvm: { flake: "path:/x#a", runner: "/nix/store/abc-runner" } }, ["spec.microvm.runner"]],
    [
      { ...nix, microvm: { runner: "/nix/store/abc-runner", shares: [], hypervisor: "qemu" } },
      ["spec.microvm.hypervisor"],
    ],
    [
      { ...nix, forwards: [{ host: 8080, guest: 80 }], microvm: { hypervisor: "firecracker" } },
      ["spec.forwards"],
    ],
    [{ ...nix, microvm: { flake: "path:/srv/vms#web; rm -rf /" } }, ["spec.microvm.flake"]],
    [
      { ...nix, microvm: { flake: ["path:/srv/$", '{builtins.abort "x"}'].join("") } },
      ["spec.microvm.flake"],
    ],
    [
      { ...nix, microvm: { volumes: [{ image: "../../etc/passwd", mountPoint: "/var", size: 64 }] } },
      ["spec.microvm.volumes.0.image"],
    ],
    [
      { ...nix, microvm: { volumes: [{ image: "/var/lib/x.img", mountPoint: "/var", size: 64 }] } },
      ["spec.microvm.volumes.0.image"],
    ],
    [
      { ...nix, microvm: { shares: [{ tag: "a", source: "relative", mountPoint: "/a" }] } },
      ["spec.microvm.shares.0.source"],
    ],
    [
      { ...nix, microvm: { shares: [{ tag: "a", source: "/srv/a", mountPoint: '/a"; x' }] } },
      ["spec.microvm.shares.0.mountPoint"],
    ],
    [
      {
        ...nix,
        microvm: { interfaces: [{ type: "tap", id: "a-very-long-interface", mac: "02:00:00:00:00:01" }] },
      },
      ["spec.microvm.interfaces.0.id"],
    ],
    [
      { ...nix, microvm: { interfaces: [{ type: "macvtap", id: "vm0", mac: "02:00:00:00:00:01" }] } },
      ["spec.microvm.interfaces.0.macvtap"],
    ],
    [{ ...nix, microvm: { hypervisor: "xen" } }, ["spec.microvm.hypervisor"]],
  ])("rejects %j naming the field", (input, fields) => {
    expect(violations(input).sort()).toEqual(fields);
  });

  it("rejects two shares with one tag", () => {
    const share = { tag: "data", source: "/srv/data", mountPoint: "/data" };
    expect(violations({ ...nix, microvm: { shares: [share, { ...share, mountPoint: "/other" }] } })).toEqual([
      "spec.microvm.shares.1.tag",
    ]);
  });

  it("accepts a full generated-flake spec", () => {
    const spec = parseVmSpec({
      ...nix,
      vcpus: 2,
      memory: 1024,
      forwards: [{ host: 8080, guest: 80 }],
      microvm: {
        hypervisor: "qemu",
        modules: ["/etc/blixard/web.nix"],
        config: "services.nginx.enable = true;",
        interfaces: [{ type: "tap", id: "vm-web", mac: "02:00:00:00:00:01" }],
        shares: [{ tag: "ro-store", source: "/nix/store", mountPoint: "/nix/.ro-store", proto: "virtiofs" }],
        volumes: [{ image: "var.img", mountPoint: "/var", size: 256 }],
      },
    });
    expect(spec.microvm?.volumes[0]).toMatchObject({ fsType: "ext4", readOnly: false });
  });
});

describe("network mode", () => {
  it("defaults to user networking and accepts bridge", () => {
    expect(parseVmSpec(minimal).network).toBe("user");
    expect(parseVmSpec({ ...minimal, network: "bridge" }).network).toBe("bridge");
  });

  it("refuses forwards in bridge mode, and bridge mode for microvm-nix, naming the field", () => {
    expect(violations({ ...minimal, network: "bridge", forwards: [{ host: 8080, guest: 80 }] })).toEqual([
      "spec.forwards",
    ]);
    expect(violations({ name: "nix", driver: "microvm-nix", network: "bridge" })).toEqual(["spec.network"]);
    expect(violations({ ...minimal, network: "tap" })).toEqual(["spec.network"]);
  });

  it("needs no forward for a TCP health check in bridge mode: the check goes to the VM's address", () => {
    const spec = parseVmSpec({ ...minimal, network: "bridge", healthCheck: { type: "tcp", port: 80 } });
    expect(healthCheckHostPort(spec)).toBeUndefined();
  });
});
