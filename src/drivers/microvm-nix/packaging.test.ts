/**
 * The Nix packaging of Blixard itself (flake.nix, nix/package.nix, nix/module.nix): parsed with
 * nix-instantiate, and the NixOS module evaluated against a stub of the lib functions it uses
 * (test/fixtures/nix/eval-module.nix), since nixpkgs cannot be fetched here. Building the package
 * needs nixpkgs and is not done here.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { nixInstantiateAvailable, nixParseError } from "../../testing/nix-parse.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const canRun = nixInstantiateAvailable();

interface ModuleConfig {
  failedAssertions: string[];
  networking?: { firewall: { allowedTCPPorts: number[] | null } };
  users?: { users: Record<string, { group: string }> };
  systemd: {
    services: { blixard: { path: string[]; serviceConfig: Record<string, unknown> & { ExecStart: string } } };
    tmpfiles: { rules: string[] };
  };
}

function evalModule(settings: Record<string, unknown>): ModuleConfig {
  const res = spawnSync(
    "nix-instantiate",
    [
      "--eval",
      "--strict",
      "--json",
      join(REPO, "test/fixtures/nix/eval-module.nix"),
      "--argstr",
      "settingsJson",
      JSON.stringify({ enable: true, ...settings }),
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
  if (res.status !== 0) throw new Error(`the module did not evaluate: ${res.stderr}`);
  return JSON.parse(res.stdout) as ModuleConfig;
}

describe("Blixard's Nix packaging", () => {
  it.skipIf(!canRun).each(["flake.nix", "nix/package.nix", "nix/module.nix"])(
    "%s parses with nix-instantiate",
    (file) => {
      expect(nixParseError(readFileSync(join(REPO, file), "utf8"))).toBeUndefined();
    },
  );

  it.skipIf(!canRun)(
    "runs the node as root by default, so that every qemu is jailed, leaving VMs running across restarts",
    () => {
      const config = evalModule({});
      expect(config.failedAssertions).toEqual([]);
      const unit = config.systemd.services.blixard;
      expect(unit.serviceConfig).toMatchObject({
        User: "root",
        Group: "root",
        KillMode: "process",
        LimitMEMLOCK: "infinity",
      });
      // An empty bounding set would take every capability from root, and with it the jail.
      expect(unit.serviceConfig).not.toHaveProperty("CapabilityBoundingSet");
      expect(unit.serviceConfig.ExecStart).toMatch(
        /\/bin\/blixard 'node' '--data-dir' '\/var\/lib\/blixard' '--bind' '127\.0\.0\.1:7001' .*'--microvm-nix' 'auto'.*'--isolation' 'strict'/,
      );
      // nix on the PATH is what makes the node offer the microvm-nix driver; passt, nft and
      // util-linux are the VMs' networking, the loopback rule and the jail's launcher.
      expect(unit.path[0]).toMatch(/-nix$/);
      expect(unit.path.slice(2)).toEqual([
        expect.stringMatching(/-passt$/),
        expect.stringMatching(/-nftables$/),
        expect.stringMatching(/-util-linux$/),
      ]);
      expect(config.systemd.tmpfiles.rules).toEqual(["d /var/lib/blixard 0710 root root - -"]);
      expect(config.networking?.firewall.allowedTCPPorts).toBeNull();
    },
  );

  it.skipIf(!canRun)("runs the node as microvm:kvm with CAP_NET_ADMIN when VMs run unjailed", () => {
    const config = evalModule({ isolation: "none" });
    expect(config.failedAssertions).toEqual([]);
    const unit = config.systemd.services.blixard;
    expect(unit.serviceConfig).toMatchObject({
      User: "microvm",
      Group: "kvm",
      AmbientCapabilities: ["CAP_NET_ADMIN"],
      CapabilityBoundingSet: ["CAP_NET_ADMIN"],
    });
    expect(unit.serviceConfig.ExecStart).toContain("'--isolation' 'none'");
    expect(config.users?.users["microvm"]).toMatchObject({ group: "kvm" });
    expect(config.systemd.tmpfiles.rules).toEqual(["d /var/lib/blixard 0700 microvm kvm - -"]);
  });

  it.skipIf(!canRun)("opens the API and managed etcd ports, and reads the token from a file", () => {
    const config = evalModule({
      bind: "0.0.0.0:8001",
      advertiseHost: "10.0.0.1",
      cluster: { join: "10.0.0.2:7001" },
      tokenFile: "/run/secrets/blixard-token",
      openFirewall: true,
      etcd: { peerPort: 2380 },
      labels: { zone: "eu-1" },
    });
    expect(config.failedAssertions).toEqual([]);
    expect(config.networking?.firewall.allowedTCPPorts).toEqual([8001, 8002, 2380]);
    const exec = config.systemd.services.blixard.serviceConfig.ExecStart;
    expect(exec).toContain("'--join' '10.0.0.2:7001'");
    expect(exec).toContain("'--token-file' '/run/secrets/blixard-token'");
    expect(exec).toContain("'--label' 'zone=eu-1'");
    expect(exec).not.toContain("'--token' ");
  });

  it.skipIf(!canRun)("refuses a join without a token, and a token in the Nix store", () => {
    expect(evalModule({ cluster: { join: "10.0.0.2:7001" } }).failedAssertions).toEqual([
      "services.blixard.cluster.join needs tokenFile (the cluster token)",
    ]);
    expect(evalModule({ tokenFile: "/nix/store/abc-token" }).failedAssertions).toEqual([
      "services.blixard.tokenFile must not be in the Nix store, where every user can read it",
    ]);
  });
});
