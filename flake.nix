{
  description = "Blixard: a distributed microVM orchestrator (qemu and microvm.nix VMs, etcd-backed clusters)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: {
        blixard = pkgs.callPackage ./nix/package.nix { };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.blixard;
      });

      overlays.default = final: _prev: {
        blixard = final.callPackage ./nix/package.nix { };
      };

      # services.blixard; its package defaults to this flake's.
      nixosModules = {
        blixard =
          { pkgs, lib, ... }:
          {
            imports = [ ./nix/module.nix ];
            services.blixard.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.blixard;
          };
        default = self.nixosModules.blixard;
      };

      # What `npm test` needs: node, qemu and its tools, etcd, the guest image builder's tools, and
      # nix-instantiate for the parse checks of the generated flakes.
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            nodejs_20
            python3
            qemu
            etcd
            busybox
            cpio
            xz
            zstd
            nix
          ];
        };
      });

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.blixard;
      });

      formatter = forAllSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
