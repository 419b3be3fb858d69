import { describe, expect, it } from "vitest";
import { isInside, specFieldViolations } from "./spec-policy.js";
import { parseVmSpec } from "./vm-spec.js";

const IMAGES = "/var/lib/blixard/images";

describe("privileged spec fields", () => {
  it("lets an operator boot images from the node's image directory", () => {
    const spec = parseVmSpec({ name: "web", kernel: `${IMAGES}/default/vmlinux`, disk: `${IMAGES}/web.img` });
    expect(specFieldViolations("operator", spec, IMAGES)).toEqual([]);
  });

  it("refuses an operator any other host path, naming the field (the disk: /etc/shadow attack)", () => {
    const spec = parseVmSpec({ name: "x", kernel: `${IMAGES}/default/vmlinux`, disk: "/etc/shadow" });
    expect(specFieldViolations("operator", spec, IMAGES)).toEqual([
      {
        field: "spec.disk",
        message: `host path /etc/shadow is outside the node's image directory ${IMAGES}/ and needs the admin role`,
      },
    ]);
    expect(specFieldViolations("admin", spec, IMAGES)).toEqual([]);
  });

  it("does not take a sibling directory with the same prefix for the image directory", () => {
    const spec = parseVmSpec({ name: "x", kernel: `${IMAGES}-evil/vmlinux` });
    expect(specFieldViolations("operator", spec, IMAGES).map((v) => v.field)).toEqual(["spec.kernel"]);
  });

  it("keeps microvm.nix runners, flakes, inline Nix, modules, shares and host interfaces admin-only", () => {
    const runner = parseVmSpec({
      name: "r",
      driver: "microvm-nix",
      microvm: { runner: "/nix/store/abc-runner" },
    });
    expect(specFieldViolations("operator", runner, IMAGES).map((v) => v.field)).toEqual([
      "spec.microvm.runner",
    ]);
    const generated = parseVmSpec({
      name: "g",
      driver: "microvm-nix",
      microvm: {
        nixpkgs: "github:evil/nixpkgs",
        modules: [`${IMAGES}/m.nix`],
        config: 'systemd.services.x.script = "id";',
        shares: [{ tag: "etc", source: "/etc", mountPoint: "/mnt" }],
      },
    });
    expect(specFieldViolations("operator", generated, IMAGES).map((v) => v.field)).toEqual([
      "spec.microvm.nixpkgs",
      "spec.microvm.modules",
      "spec.microvm.config",
      "spec.microvm.shares",
    ]);
    const flake = parseVmSpec({ name: "f", driver: "microvm-nix", microvm: { flake: "github:evil/vm#f" } });
    expect(specFieldViolations("viewer", flake, IMAGES).map((v) => v.field)).toEqual(["spec.microvm.flake"]);
    expect(specFieldViolations("admin", generated, IMAGES)).toEqual([]);
  });

  it("compares paths by whole segments and refuses '.' and '..'", () => {
    expect(isInside("/a/b/c", "/a/b")).toBe(true);
    expect(isInside("/a/b", "/a/b")).toBe(false);
    expect(isInside("/a/bc/d", "/a/b")).toBe(false);
    expect(isInside("/a/b/../../etc/shadow", "/a/b")).toBe(false);
    expect(isInside("/a/b/./c", "/a/b")).toBe(false);
    expect(isInside("a/b/c", "/a/b")).toBe(false);
  });
});
