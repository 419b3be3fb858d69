import { describe, expect, it } from "vitest";
import { defaultMicrovm, runnerSource } from "../../core/microvm-spec.js";
import { parseVmSpec } from "../../core/vm-spec.js";
import { nixInstantiateAvailable, nixParseError } from "../../testing/nix-parse.js";
import { type FlakeBase, generateFlake, userMac } from "./flake-gen.js";

function flakeFor(input: Record<string, unknown>, moduleFiles: string[] = []) {
  const spec = parseVmSpec({ name: "web", driver: "microvm-nix", ...input });
  const microvm = spec.microvm ?? defaultMicrovm();
  const source = runnerSource(spec.name, microvm);
  const base: FlakeBase =
    source.kind === "flake"
      ? { kind: "flake", ref: source.ref, config: source.config }
      : { kind: "generated", system: "x86_64-linux" };
  return generateFlake({ name: spec.name, spec, microvm, base, moduleFiles });
}

/** A Nix interpolation, `${...}` in the Nix text (written so that it is no JavaScript placeholder). */
const NIX_INTERPOLATION = ["$", "{config.networking.hostName}"].join("");
const share = { tag: "data", source: "/srv/data", mountPoint: "/data" };
const matrix: [string, Record<string, unknown>, string[]][] = [
  ["the defaults", {}, []],
  [
    "qemu with forwards and a cmdline",
    {
      forwards: [
        { host: 8080, guest: 80 },
        { host: 5353, guest: 53, protocol: "udp" },
      ],
      cmdline: "quiet loglevel=3",
    },
    [],
  ],
  [
    "cloud-hypervisor with a tap",
    {
      microvm: {
        hypervisor: "cloud-hypervisor",
        interfaces: [{ type: "tap", id: "vm-web", mac: "02:00:00:00:00:01" }],
      },
    },
    [],
  ],
  [
    "firecracker with a volume",
    {
      vcpus: 4,
      memory: 2048,
      microvm: {
        hypervisor: "firecracker",
        volumes: [{ image: "var.img", mountPoint: "/var", size: 512, fsType: "xfs" }],
      },
    },
    [],
  ],
  [
    "virtiofs and 9p shares",
    {
      microvm: {
        shares: [
          { ...share, proto: "virtiofs" },
          { tag: "ro-store", source: "/nix/store", mountPoint: "/nix/.ro-store" },
        ],
      },
    },
    [],
  ],
  [
    "macvtap and bridge interfaces",
    {
      microvm: {
        interfaces: [
          {
            type: "macvtap",
            id: "vm-web",
            mac: "02:00:00:00:00:02",
            macvtap: { link: "eth0", mode: "bridge" },
          },
          { type: "bridge", id: "vm-web-b", mac: "02:00:00:00:00:03", bridge: "br0" },
        ],
      },
    },
    [],
  ],
  [
    "modules and inline config",
    {
      microvm: {
        modules: ["/etc/vms/web.nix", "/etc/vms/common.nix"],
        config: `services.nginx.enable = true;\nnetworking.firewall.allowedTCPPorts = [ 80 ];\nenvironment.etc."motd".text = "hello ${NIX_INTERPOLATION}";`,
      },
    },
    ["0-web.nix", "1-common.nix"],
  ],
  ["a base disk", { disk: "/images/base.img" }, []],
  [
    "a pinned nixpkgs",
    {
      microvm: {
        nixpkgs: "github:NixOS/nixpkgs/nixos-24.11",
        microvmFlake: "git+https://github.com/astro/microvm.nix?ref=main",
      },
    },
    [],
  ],
  ["a user's flake", { microvm: { flake: "path:/srv/vms#api" } }, []],
  [
    "a user's flake with a hypervisor, shares and modules",
    {
      forwards: [{ host: 8080, guest: 80 }],
      microvm: {
        flake: "github:me/vms",
        hypervisor: "qemu",
        shares: [share],
        config: "services.openssh.enable = true;",
      },
    },
    ["0-extra.nix"],
  ],
];

describe("generated flakes", () => {
  const canParse = nixInstantiateAvailable();

  it.skipIf(!canParse).each(matrix)("parse with nix-instantiate: %s", (_what, input, modules) => {
    const files = flakeFor(input, modules);
    for (const [file, text] of Object.entries(files)) {
      expect(nixParseError(text), `${file}:\n${text}`).toBeUndefined();
    }
  });

  it.skipIf(!canParse)("would be caught by the parse check if they were broken", () => {
    expect(nixParseError("{ a = 1 }")).toMatch(/syntax error/);
  });

  it("builds the spec's values into Blixard's module, forced over the configuration's", () => {
    const files = flakeFor({ vcpus: 2, memory: 768, forwards: [{ host: 8080, guest: 80 }] });
    const module = files["blixard.nix"]!;
    expect(module).toContain('hypervisor = lib.mkForce "qemu";');
    expect(module).toContain("vcpu = lib.mkForce 2;");
    expect(module).toContain("mem = lib.mkForce 768;");
    expect(module).toContain('socket = lib.mkForce "control.socket";');
    expect(module).toContain(`mac = "${userMac("web")}";`);
    expect(module).toMatch(/address = "127\.0\.0\.1";\s+port = 8080;/);
    expect(files["flake.nix"]).toContain("microvm.nixosModules.microvm");
    expect(files["flake.nix"]).toContain('nixosConfigurations."web" = nixpkgs.lib.nixosSystem');
    expect(files["inline.nix"]).toBeUndefined();
  });

  it("extends a user's flake instead of generating a system, adding no default interface", () => {
    const files = flakeFor({ microvm: { flake: "path:/srv/vms#api" } });
    expect(files["flake.nix"]).toContain('inputs.vm.url = "path:/srv/vms";');
    expect(files["flake.nix"]).toContain('vm.nixosConfigurations."api".extendModules');
    expect(files["blixard.nix"]).not.toContain("hypervisor");
    expect(files["blixard.nix"]).not.toContain("interfaces");
  });

  it("imports the copied modules and the inline config after Blixard's module", () => {
    const files = flakeFor(
      { microvm: { modules: ["/etc/vms/web.nix"], config: "services.nginx.enable = true;" } },
      ["0-web.nix"],
    );
    const flake = files["flake.nix"]!;
    expect(flake.indexOf("./blixard.nix")).toBeLessThan(flake.indexOf("./modules/0-web.nix"));
    expect(flake.indexOf("./modules/0-web.nix")).toBeLessThan(flake.indexOf("./inline.nix"));
    expect(files["inline.nix"]).toContain("services.nginx.enable = true;");
  });

  it("gives each VM its own stable MAC", () => {
    expect(userMac("web")).toMatch(/^02:00(:[0-9a-f]{2}){4}$/);
    expect(userMac("web")).toBe(userMac("web"));
    expect(userMac("web")).not.toBe(userMac("api"));
  });
});
