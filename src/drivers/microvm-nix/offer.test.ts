import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findOnPath, microvmNixOffer } from "./offer.js";

describe("offering the microvm-nix driver", () => {
  const dir = mkdtempSync(join(tmpdir(), "blixard-offer-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds only an executable nix on the PATH", () => {
    writeFileSync(join(dir, "nix"), "#!/bin/sh\n");
    expect(findOnPath("nix", `/nonexistent:${dir}`)).toBeUndefined();
    chmodSync(join(dir, "nix"), 0o755);
    expect(findOnPath("nix", `/nonexistent:${dir}`)).toBe(join(dir, "nix"));
  });

  it("offers it in auto mode only when nix is there, always when on, never when off", () => {
    expect(microvmNixOffer("auto", "/usr/bin/nix").offered).toBe(true);
    expect(microvmNixOffer("auto", undefined)).toMatchObject({
      offered: false,
      reason: /no nix on the PATH/,
    });
    expect(microvmNixOffer("on", undefined)).toMatchObject({
      offered: true,
      reason: /only prebuilt runners/,
    });
    expect(microvmNixOffer("off", "/usr/bin/nix").offered).toBe(false);
  });
});
