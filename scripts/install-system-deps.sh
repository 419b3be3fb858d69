#!/usr/bin/env bash
# Installs the Debian packages Blixard needs on a node and for its tests: qemu (TCG works everywhere;
# KVM is used only when the host can really run guests), qemu-img for disk overlays, and what the guest
# image builder uses (busybox-static, cpio, kernel module decompressors), and etcd for cluster mode
# (etcd-client brings etcdctl, which restores etcd snapshots). nix-bin brings nix-instantiate, with
# which the tests parse the flakes the microvm-nix driver generates, flake.nix and the NixOS module.
# passt is the user-mode network back end that keeps guests away from the host's loopback services,
# with nftables' rule against VM uids connecting to 127.0.0.0/8 (docs/isolation.md);
# dnsmasq-base serves DHCP and DNS to bridge-mode VMs on the node's bridge (docs/networking.md);
# prometheus brings promtool, with which the tests check the /metrics exposition.
# ceph-common (rbd, rados, ceph) manages RBD volumes and fences their holders; qemu-block-extra is
# qemu's rbd block driver; ceph-mon and ceph-osd run the tests' throwaway Ceph (scripts/ceph-dev.sh).
set -euo pipefail

packages=(qemu-system-x86 qemu-utils passt nftables dnsmasq-base iproute2 procps prometheus busybox-static cpio xz-utils zstd curl ca-certificates etcd-server etcd-client nix-bin ceph-common qemu-block-extra ceph-mon ceph-osd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: installing ${missing[*]} needs root; re-run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed"
