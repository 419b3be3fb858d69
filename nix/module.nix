# services.blixard: a Blixard node on a NixOS host, in the manner of microvm.nix's host module
# (nixos-modules/host). Blixard takes the place of microvm.nix's microvm@ units: it builds each VM's
# runner with Nix and runs it from /var/lib/blixard/vms/<name>/ under cluster control.
#
# - With isolation = "strict" (the default) the node runs as root, which the qemu jail needs (a uid
#   per VM, cgroups, a mount namespace; docs/isolation.md): every qemu then runs as its VM's uid with
#   no capabilities. With isolation = "none" the node runs as the user microvm.nix's runners expect
#   (microvm, group kvm): their tap-up creates taps owned by "microvm", and their macvtap-up gives
#   /dev/tapN to microvm:kvm.
# - Unjailed, CAP_NET_ADMIN (ambient, so that tap-up and macvtap-up inherit it) creates those
#   interfaces; the kvm group opens /dev/kvm. Nothing else is granted unless extraCapabilities says so.
# - KillMode=process: VMs and the fencing watchdog are detached children that outlive a restart of
#   the daemon, which re-adopts them (as Blixard's architecture requires); the daemon stops its
#   managed etcd member itself.
# - The cluster token is read from a file (tokenFile), never put on the command line.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.services.blixard;
  inherit (lib)
    mkEnableOption
    mkIf
    mkOption
    optional
    optionals
    types
    ;

  bindMatch = builtins.match "(.*):([0-9]+)" cfg.bind;
  apiPort = if bindMatch == null then 7001 else lib.toInt (builtins.elemAt bindMatch 1);
  managedEtcd = cfg.cluster.init || cfg.cluster.join != null;
  jailed = cfg.isolation == "strict";
  etcdClientPort = if cfg.etcd.clientPort != null then cfg.etcd.clientPort else apiPort + 1;
  etcdPeerPort = if cfg.etcd.peerPort != null then cfg.etcd.peerPort else apiPort + 2;

  args =
    [
      "node"
      "--data-dir"
      cfg.dataDir
      "--bind"
      cfg.bind
      "--accel"
      cfg.accel
      "--microvm-nix"
      cfg.microvmNix
      "--log-level"
      cfg.logLevel
      "--graceful-stop-timeout"
      (toString cfg.gracefulStopTimeout)
      "--isolation"
      cfg.isolation
    ]
    ++ lib.concatLists (lib.mapAttrsToList (key: value: [ "--label" "${key}=${value}" ]) cfg.labels)
    ++ optionals (cfg.advertiseHost != null) [
      "--advertise-host"
      cfg.advertiseHost
    ]
    ++ optional cfg.cluster.init "--cluster-init"
    ++ optionals (cfg.cluster.join != null) [
      "--join"
      cfg.cluster.join
    ]
    ++ optionals (cfg.store != null) [
      "--store"
      cfg.store
    ]
    ++ optionals (cfg.tokenFile != null) [
      "--token-file"
      (toString cfg.tokenFile)
    ]
    ++ optionals (cfg.etcd.clientPort != null) [
      "--etcd-client-port"
      (toString cfg.etcd.clientPort)
    ]
    ++ optionals (cfg.etcd.peerPort != null) [
      "--etcd-peer-port"
      (toString cfg.etcd.peerPort)
    ]
    ++ cfg.extraArgs;
in
{
  options.services.blixard = {
    enable = mkEnableOption "a Blixard node (agent, API and, in a cluster, a managed etcd member)";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The Blixard package.";
    };

    user = mkOption {
      type = types.str;
      default = "microvm";
      description = ''
        The user the node and its VMs run as. microvm.nix's runners create taps owned by "microvm"
        and give macvtap devices to microvm:kvm, so that user is the default.
      '';
    };

    group = mkOption {
      type = types.str;
      default = "kvm";
      description = "The group of the node and its VMs; kvm opens /dev/kvm.";
    };

    dataDir = mkOption {
      type = types.path;
      default = "/var/lib/blixard";
      description = "The node's data directory: its store, identity, token and VM state dirs (vms/<name>).";
    };

    bind = mkOption {
      type = types.str;
      default = "127.0.0.1:7001";
      example = "0.0.0.0:7001";
      description = "HOST:PORT of the API. Any non-loopback address requires the bearer token.";
    };

    advertiseHost = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "10.0.0.1";
      description = "The address other nodes reach this one at (API and etcd); needed when bind is a wildcard.";
    };

    labels = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = {
        zone = "eu-1";
      };
      description = "Node labels for placement constraints.";
    };

    accel = mkOption {
      type = types.enum [
        "auto"
        "kvm"
        "tcg"
      ];
      default = "auto";
      description = "qemu acceleration of the qemu driver: auto uses KVM only when it really works.";
    };

    microvmNix = mkOption {
      type = types.enum [
        "auto"
        "on"
        "off"
      ];
      default = "auto";
      description = ''
        Offer the microvm-nix driver: auto when nix is on the node's PATH (the module puts the
        system's nix there), on also without nix (prebuilt runners only), or off.
      '';
    };

    isolation = mkOption {
      type = types.enum [
        "strict"
        "none"
      ];
      default = "strict";
      description = ''
        strict: every qemu runs jailed (its own uid, no capabilities, seccomp, cgroup limits, a mount
        namespace), which needs the node to run as root; the node refuses to start where the host
        cannot. none: VMs run as the node's user (`user`), as microvm.nix's own units run them.
      '';
    };

    logLevel = mkOption {
      type = types.enum [
        "debug"
        "info"
        "warn"
        "error"
      ];
      default = "info";
      description = "Log level.";
    };

    gracefulStopTimeout = mkOption {
      type = types.ints.positive;
      default = 10;
      description = "Seconds a VM gets to power off (Ctrl-Alt-Del, or microvm-shutdown) before escalation.";
    };

    store = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "etcd://10.0.0.1:2379,10.0.0.2:2379";
      description = "An external etcd cluster; null for the embedded SQLite store or the managed etcd of cluster.init/join.";
    };

    cluster = {
      init = mkOption {
        type = types.bool;
        default = false;
        description = "Form a new cluster: this node runs the first managed etcd member.";
      };
      join = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "10.0.0.1:7001";
        description = "Join the cluster of the node whose API is at HOST:PORT (needs tokenFile).";
      };
    };

    tokenFile = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = "/run/secrets/blixard-token";
      description = ''
        A file holding this node's API token, or with cluster.join a join token (the `join-token` file of the first node, or `blixard cluster token create`). Keep it out of the
        Nix store (mode 0600, e.g. from agenix or sops-nix); the node copies it into its data dir
        with mode 0600.
      '';
    };

    etcd = {
      clientPort = mkOption {
        type = types.nullOr types.port;
        default = null;
        description = "The managed etcd member's client port; the API port + 1 when null.";
      };
      peerPort = mkOption {
        type = types.nullOr types.port;
        default = null;
        description = "The managed etcd member's peer port; the API port + 2 when null.";
      };
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the API port, and with a managed etcd member its client and peer ports.";
    };

    extraCapabilities = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "CAP_CHOWN" ];
      description = ''
        Capabilities besides CAP_NET_ADMIN. macvtap interfaces need CAP_CHOWN: macvtap-up gives
        /dev/tapN to the VM's user.
      '';
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "--placement-strategy"
        "binpack"
      ];
      description = "More arguments of `blixard node`.";
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = bindMatch != null;
        message = "services.blixard.bind must be HOST:PORT, e.g. 127.0.0.1:7001";
      }
      {
        assertion = !(cfg.cluster.init && cfg.cluster.join != null);
        message = "services.blixard: set either cluster.init or cluster.join, not both";
      }
      {
        assertion = cfg.cluster.join == null || cfg.tokenFile != null;
        message = "services.blixard.cluster.join needs tokenFile (the cluster token)";
      }
      {
        assertion = cfg.tokenFile == null || !lib.hasPrefix builtins.storeDir (toString cfg.tokenFile);
        message = "services.blixard.tokenFile must not be in the Nix store, where every user can read it";
      }
    ];

    # Taps for the VMs' tap interfaces, as microvm.nix's host module loads it.
    boot.kernelModules = [ "tun" ];

    users.users = mkIf (cfg.user == "microvm") {
      microvm = {
        isSystemUser = true;
        group = cfg.group;
      };
    };

    environment.systemPackages = [ cfg.package ];

    # Jailed, the node makes it root:<VM group> 0710 at start, so VM processes reach their state dirs.
    systemd.tmpfiles.rules =
      if jailed then [ "d ${cfg.dataDir} 0710 root root - -" ] else [ "d ${cfg.dataDir} 0700 ${cfg.user} ${cfg.group} - -" ];

    networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall (
      [ apiPort ]
      ++ optionals managedEtcd [
        etcdClientPort
        etcdPeerPort
      ]
    );

    systemd.services.blixard = {
      description = "Blixard node";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [
        "network-online.target"
        "nix-daemon.socket"
      ];
      # nix builds the runners of microvm-nix VMs; qemu and etcd come with the package.
      # passt is the VMs' user networking, nft installs the rule that keeps them off the host's
      # loopback, setpriv and unshare (util-linux) are the jail's launcher.
      path = [
        config.nix.package
        pkgs.iproute2
        pkgs.passt
        pkgs.nftables
        pkgs.util-linux
      ];
      environment.BLIXARD_DATA_DIR = cfg.dataDir;
      serviceConfig = {
        ExecStart = "${lib.getExe cfg.package} ${lib.escapeShellArgs args}";
        User = if jailed then "root" else cfg.user;
        Group = if jailed then "root" else cfg.group;
        SupplementaryGroups = [ "kvm" ];
        WorkingDirectory = cfg.dataDir;
        # VMs and the watchdog outlive the daemon; a restarted daemon re-adopts them.
        KillMode = "process";
        Restart = "always";
        RestartSec = "5s";
        # Stopping waits for a clean shutdown of the API and the managed etcd member.
        TimeoutStopSec = 60;
        LimitNOFILE = 1048576;
        LimitMEMLOCK = "infinity";
        UMask = "0077";
        # Read-only /usr, /boot and /etc; /home and /tmp stay visible, since specs may share them.
        ProtectSystem = "full";
        SyslogIdentifier = "blixard";
      }
      # Root keeps what the jail needs (setuid, chown, mounts, cgroups, nftables); unjailed, only these.
      // (
        if jailed then
          { }
        else
          {
            AmbientCapabilities = [ "CAP_NET_ADMIN" ] ++ cfg.extraCapabilities;
            CapabilityBoundingSet = [ "CAP_NET_ADMIN" ] ++ cfg.extraCapabilities;
          }
      );
    };
  };
}
