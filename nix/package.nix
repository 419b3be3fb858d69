# The Blixard package: the npm project built with nixpkgs' buildNpmPackage. Dependencies come from
# package-lock.json through importNpmLock (no separate hash to keep in step with the lock), and
# better-sqlite3 is compiled from source (python3 for node-gyp), as the build sandbox has no network.
# The blixard command finds qemu, qemu-img and etcd on its PATH; nix comes from the host (the NixOS
# module puts the system's nix on the service's PATH).
{
  lib,
  buildNpmPackage,
  importNpmLock,
  nodejs_20,
  python3,
  makeWrapper,
  qemu,
  etcd,
}:

let
  manifest = lib.importJSON ../package.json;
in
buildNpmPackage {
  pname = "blixard";
  inherit (manifest) version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../tsconfig.build.json
      ../.dependency-cruiser.cjs
      ../proto
      ../scripts
      ../src
    ];
  };

  nodejs = nodejs_20;
  npmDeps = importNpmLock { npmRoot = ../.; };
  npmConfigHook = importNpmLock.npmConfigHook;

  nativeBuildInputs = [
    python3
    makeWrapper
  ];

  # `npm run build`: the layering check, then tsc into dist/.
  npmBuildScript = "build";

  postInstall = ''
    wrapProgram $out/bin/blixard \
      --suffix PATH : ${
        lib.makeBinPath [
          qemu
          etcd
        ]
      }
  '';

  meta = {
    description = manifest.description;
    homepage = "https://github.com/blixard/blixard";
    license = lib.licenses.mit;
    mainProgram = "blixard";
    platforms = lib.platforms.linux;
  };
}
