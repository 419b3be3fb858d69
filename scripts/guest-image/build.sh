#!/usr/bin/env bash
# Build the Blixard default guest image from Debian packages.
#
#   scripts/guest-image/build.sh OUT_DIR
#
# Writes OUT_DIR/vmlinuz, OUT_DIR/initrd.img (gzip'd newc cpio) and
# OUT_DIR/image.json, plus OUT_DIR/vmlinux (the same kernel uncompressed, for
# a faster PVH boot) when it can be extracted. See docs/guest-image.md for the
# image contract and the QEMU command line it is meant for.
#
# Environment:
#   BLIXARD_CACHE_DIR  where downloaded kernel .debs are kept
#                      (default ~/.cache/blixard); makes re-runs offline.
#   SOURCE_DATE_EPOCH  timestamp stamped on initrd entries (default 0) so the
#                      initrd only changes when its inputs do.
set -euo pipefail

# Metapackage tracking the current Debian kernel for this release.
readonly KERNEL_META=linux-image-amd64
# insmod does no dependency resolution, so this is the load order (each module
# after everything it depends on; verified below against the .ko metadata).
readonly REQUIRED_MODULES=(virtio_ring virtio virtio_mmio failover net_failover virtio_net virtio_blk)
# virtio_input: without it a virtio-keyboard-device is invisible and the host
# cannot deliver Ctrl-Alt-Del (microvm has no i8042). Optional only so that a
# kernel lacking it still yields a bootable image.
readonly OPTIONAL_MODULES=(virtio_input)

log() { echo "guest-image: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $# -eq 1 ]] || die "usage: $0 OUT_DIR"
OUT_DIR=$1
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${BLIXARD_CACHE_DIR:-$HOME/.cache/blixard}
DEB_CACHE=$CACHE_DIR/debs

for tool in apt-cache apt-get dpkg-deb cpio gzip sha256sum; do
	command -v "$tool" >/dev/null || die "missing required tool: $tool"
done

# Everything that determines the initrd besides the kernel and busybox
# packages: build.sh, init.sh and the files under files/ (names and contents),
# so that a change to any of them invalidates an existing image. A cached image
# that predates a guest feature (e.g. DHCP) would otherwise be silently reused.
script_inputs() {
	local f
	for f in "$SCRIPT_DIR/build.sh" "$SCRIPT_DIR/init.sh" "$SCRIPT_DIR"/files/*; do
		printf '%s %s\n' "${f#"$SCRIPT_DIR"/}" "$(sha256sum <"$f" | cut -d' ' -f1)"
	done
}
SCRIPT_HASH=$(script_inputs | LC_ALL=C sort | sha256sum | cut -d' ' -f1)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/blixard-guest-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- Resolve the kernel package -------------------------------------------

# Prints "PACKAGE VERSION" of the real kernel package behind the metapackage.
# The Depends may name the signed image or, on some setups, the -unsigned one.
resolve_kernel() {
	local pkg ver
	pkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null |
		sed -n -E '/^ *\|?Depends: linux-image-[0-9][^ ]*-amd64(-unsigned)?$/{s/.*: //p;q}')
	[[ -n $pkg ]] || return 1
	ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n -E 's/^ *Candidate: (.*)$/\1/p')
	[[ -n $ver && $ver != "(none)" ]] || return 1
	echo "$pkg $ver"
}

# apt-get download names files with the epoch colon URL-encoded.
deb_path() { echo "$DEB_CACHE/${1}_${2//:/%3a}_amd64.deb"; }

if resolved=$(resolve_kernel); then
	read -r KPKG KVER <<<"$resolved"
else
	# No usable package lists. Prefer the newest cached .deb (offline
	# re-runs); only without one is it worth refreshing the lists.
	# shellcheck disable=SC2012 # apt-generated names; newest download wins
	cached=$(ls -t "$DEB_CACHE"/linux-image-*_amd64.deb 2>/dev/null | head -n1 || true)
	if [[ -n $cached ]]; then
		KPKG=$(dpkg-deb -f "$cached" Package)
		KVER=$(dpkg-deb -f "$cached" Version)
		log "warning: cannot resolve $KERNEL_META via apt-cache; using cached $KPKG $KVER"
	else
		log "cannot resolve $KERNEL_META; running apt-get update"
		apt-get update -qq || die "apt-get update failed"
		resolved=$(resolve_kernel) || die "cannot resolve $KERNEL_META to a kernel package"
		read -r KPKG KVER <<<"$resolved"
	fi
fi
# uname -r of that kernel, e.g. linux-image-6.1.0-56-amd64 -> 6.1.0-56-amd64
KREL=${KPKG#linux-image-}
KREL=${KREL%-unsigned}
log "kernel: $KPKG $KVER ($KREL)"

# --- Up-to-date check -----------------------------------------------------

json_field() { sed -n -E "s/^ *\"$1\": \"([^\"]*)\",?$/\1/p" "$2"; }

if [[ -f $OUT_DIR/image.json && -f $OUT_DIR/vmlinuz && -f $OUT_DIR/initrd.img ]] &&
	[[ $(json_field kernelPackage "$OUT_DIR/image.json") == "$KPKG" ]] &&
	[[ $(json_field kernelPackageVersion "$OUT_DIR/image.json") == "$KVER" ]] &&
	[[ $(json_field scriptHash "$OUT_DIR/image.json") == "$SCRIPT_HASH" ]] &&
	[[ $(json_field busyboxVersion "$OUT_DIR/image.json") == "$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null)" ]] &&
	{ [[ -f $OUT_DIR/vmlinux ]] || ! grep -q '"vmlinux": true' "$OUT_DIR/image.json"; }; then
	echo "guest image up to date"
	exit 0
fi

# --- Fetch the kernel .deb (cached) ---------------------------------------

DEB=$(deb_path "$KPKG" "$KVER")
if [[ ! -f $DEB ]]; then
	dl=$WORK/download
	mkdir -p "$dl" "$DEB_CACHE"
	# As root apt drops privileges to _apt for downloads; let it write here
	# instead of falling back to an unsandboxed download with a warning.
	if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then
		chmod 0711 "$WORK"
		chown _apt "$dl"
	fi
	log "downloading $KPKG=$KVER"
	if ! (cd "$dl" && apt-get download -q "$KPKG=$KVER"); then
		# Typically the lists are missing or stale (version gone from mirror).
		log "download failed; running apt-get update and retrying"
		apt-get update -qq || die "apt-get update failed"
		(cd "$dl" && apt-get download -q "$KPKG=$KVER") || die "cannot download $KPKG=$KVER"
	fi
	got=("$dl"/*.deb)
	[[ ${#got[@]} -eq 1 && -f ${got[0]} ]] || die "unexpected download result in $dl"
	# Copy then rename, so an interrupted run never leaves a truncated .deb
	# that later runs would trust.
	cp "${got[0]}" "$DEB.partial"
	mv "$DEB.partial" "$DEB"
else
	log "using cached $DEB"
fi

# Extract into the work dir only; the kernel is never installed on the host.
KROOT=$WORK/kernel
dpkg-deb -x "$DEB" "$KROOT" || die "cannot extract $DEB (corrupt cache? delete it and re-run)"
VMLINUZ=$KROOT/boot/vmlinuz-$KREL
MODDIR=$KROOT/lib/modules/$KREL
[[ -f $VMLINUZ ]] || die "no /boot/vmlinuz-$KREL in $DEB"
[[ -d $MODDIR ]] || die "no /lib/modules/$KREL in $DEB"

# --- Uncompressed kernel for PVH boot (optional) ---------------------------

# QEMU can boot an ELF vmlinux that carries a PVH entry note directly. That
# skips the bzImage's self-decompression, which under TCG is ~3.5 s of an
# ~8 s boot. Only the xz payload Debian uses is handled; anything else just
# means no vmlinux (vmlinuz still works).
extract_vmlinux() {
	local off
	grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KREL" 2>/dev/null || return 1
	command -v xz >/dev/null || return 1
	# Byte offset of the first xz magic; -o output is "OFFSET:match".
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ' "$VMLINUZ" | LC_ALL=C sed -n '1s/:.*//p')
	[[ $off =~ ^[0-9]+$ ]] || return 1
	# --single-stream: the payload is followed by non-xz bytes (its size etc.).
	# xz then stops reading early; a process substitution keeps tail's SIGPIPE
	# out of pipefail.
	xz -dcq --single-stream < <(tail -c +$((off + 1)) "$VMLINUZ") >"$1" || return 1
	[[ $(head -c 4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]
}

HAS_VMLINUX=false
if extract_vmlinux "$WORK/vmlinux"; then
	HAS_VMLINUX=true
else
	log "warning: could not extract a PVH-bootable vmlinux; only vmlinuz will be written"
fi

# --- Busybox --------------------------------------------------------------

# Debian's /bin/busybox may be the dynamically linked one (package busybox);
# only busybox-static's runs in an initrd without a libc.
if [[ $(dpkg-query -W -f '${Status}' busybox-static 2>/dev/null || true) != "install ok installed" ]]; then
	[[ $EUID -eq 0 ]] || die "busybox-static is not installed (run: apt-get install busybox-static)"
	log "installing busybox-static"
	apt-get install -y -qq busybox-static >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null; } ||
		die "cannot install busybox-static"
fi
BUSYBOX=/bin/busybox
BUSYBOX_VERSION=$(dpkg-query -W -f '${Version}' busybox-static)

# --- Assemble the initramfs -----------------------------------------------

ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,dev,etc,proc,sys,tmp,www,lib/modules}
# Merged-/usr style aliases so absolute paths like /sbin/x and /usr/bin/x work.
ln -s bin "$ROOT/sbin"
mkdir -p "$ROOT/usr"
ln -s ../bin "$ROOT/usr/bin"
ln -s ../bin "$ROOT/usr/sbin"

cp "$BUSYBOX" "$ROOT/bin/busybox"
# Symlinks made here rather than `busybox --install` at boot: no boot time
# spent, and the image contents are inspectable.
for applet in $("$BUSYBOX" --list); do
	[[ $applet == busybox ]] || ln -s busybox "$ROOT/bin/$applet"
done
install -m 0755 "$SCRIPT_DIR/init.sh" "$ROOT/init"
# DHCP event script (used with blixard.net=dhcp) and the test probe's CGI
# scripts, which init.sh copies into /www/cgi-bin only with blixard.probe=1.
install -m 0755 "$SCRIPT_DIR/files/udhcpc.sh" "$ROOT/etc/udhcpc.script"
mkdir -p "$ROOT/lib/blixard" "$ROOT/run"
install -m 0644 "$SCRIPT_DIR/files/probe-lib.sh" "$ROOT/lib/blixard/probe-lib.sh"
install -m 0755 "$SCRIPT_DIR/files/probe-fetch.sh" "$ROOT/lib/blixard/probe-fetch"
install -m 0755 "$SCRIPT_DIR/files/probe-resolve.sh" "$ROOT/lib/blixard/probe-resolve"
install -m 0755 "$SCRIPT_DIR/files/probe-pull.sh" "$ROOT/lib/blixard/probe-pull"
install -m 0755 "$SCRIPT_DIR/files/probe-zeros.sh" "$ROOT/lib/blixard/probe-zeros"
install -m 0755 "$SCRIPT_DIR/files/probe-diskw.sh" "$ROOT/lib/blixard/probe-diskw"
install -m 0755 "$SCRIPT_DIR/files/probe-diskr.sh" "$ROOT/lib/blixard/probe-diskr"
install -m 0755 "$SCRIPT_DIR/files/probe-diskio.sh" "$ROOT/lib/blixard/probe-diskio"
echo "root:x:0:0:root:/:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
# The kernel opens /dev/console for /init before devtmpfs is mounted. Its
# built-in initramfs normally provides the node; add it too when we can.
if [[ $EUID -eq 0 ]]; then mknod -m 0600 "$ROOT/dev/console" c 5 1; fi

# --- Kernel modules -------------------------------------------------------

# modules.builtin lists drivers compiled into the kernel, as paths ending in
# .ko; module names treat '-' and '_' as the same.
is_builtin() {
	[[ -f $MODDIR/modules.builtin ]] &&
		awk -v m="${1//-/_}" '{ sub(/.*\//, ""); sub(/\.ko$/, ""); gsub(/-/, "_") }
			$0 == m { found = 1 } END { exit !found }' "$MODDIR/modules.builtin"
}

find_module() {
	local name=$1 alt=${1//_/-}
	find "$MODDIR/kernel" -type f \( -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" \
		-o -name "$name.ko.gz" -o -name "$alt.ko" -o -name "$alt.ko.xz" -o -name "$alt.ko.zst" \
		-o -name "$alt.ko.gz" \) -print -quit
}

# busybox insmod only loads uncompressed modules, so decompress here.
install_module() {
	local src=$1 dst=$2
	case "$src" in
	*.ko) cp "$src" "$dst" ;;
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -dcq "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	esac
}

LOADED=()
BUILTIN=()
declare -A EXTS=()
for mod in "${REQUIRED_MODULES[@]}" "${OPTIONAL_MODULES[@]}"; do
	if is_builtin "$mod"; then
		BUILTIN+=("$mod")
		continue
	fi
	src=$(find_module "$mod")
	if [[ -z $src ]]; then
		if [[ " ${OPTIONAL_MODULES[*]} " == *" $mod "* ]]; then
			log "warning: optional module $mod neither built in nor shipped; skipping"
			continue
		fi
		die "module $mod neither built in nor shipped by $KPKG"
	fi
	case "$src" in
	*.ko.xz) command -v xz >/dev/null || die "$src needs xz (apt-get install xz-utils)" ;;
	*.ko.zst) command -v zstd >/dev/null || die "$src needs zstd (apt-get install zstd)" ;;
	esac
	EXTS[ko${src##*.ko}]=1
	install_module "$src" "$ROOT/lib/modules/$mod.ko"

	# A future kernel could grow a dependency we do not load; catch that here
	# instead of as an "Unknown symbol" on the guest console.
	deps=$(tr '\0' '\n' <"$ROOT/lib/modules/$mod.ko" | sed -n 's/^depends=//p')
	for dep in ${deps//,/ }; do
		[[ " ${LOADED[*]} ${BUILTIN[*]} " == *" ${dep//-/_} "* ]] ||
			die "module $mod depends on $dep, which is not loaded before it"
	done
	LOADED+=("$mod")
	echo "$mod" >>"$ROOT/lib/modules/load-order"
done
touch "$ROOT/lib/modules/load-order"
log "modules: ${LOADED[*]:-none} (built in: ${BUILTIN[*]:-none})"

MODULE_EXTS=()
if ((${#EXTS[@]})); then mapfile -t MODULE_EXTS < <(printf '%s\n' "${!EXTS[@]}" | sort); fi

# --- Write outputs --------------------------------------------------------

mkdir -p "$OUT_DIR"
# Fixed timestamps and sorted entries: identical inputs give an identical
# initrd, which keeps caches and diffs meaningful.
find "$ROOT" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible | gzip -9 -n) >"$OUT_DIR/.initrd.img.tmp"
cp "$VMLINUZ" "$OUT_DIR/.vmlinuz.tmp"
if $HAS_VMLINUX; then mv "$WORK/vmlinux" "$OUT_DIR/.vmlinux.tmp"; fi

json_list() {
	local out="" x
	for x in "$@"; do out+="${out:+, }\"$x\""; done
	echo "[$out]"
}

# image.json is the "complete" marker: drop it first so an interrupted run
# can never pair a stale marker with half-replaced files.
rm -f "$OUT_DIR/image.json"
mv "$OUT_DIR/.vmlinuz.tmp" "$OUT_DIR/vmlinuz"
mv "$OUT_DIR/.initrd.img.tmp" "$OUT_DIR/initrd.img"
if $HAS_VMLINUX; then
	mv "$OUT_DIR/.vmlinux.tmp" "$OUT_DIR/vmlinux"
else
	# Never leave a vmlinux from an older kernel next to the new vmlinuz.
	rm -f "$OUT_DIR/vmlinux"
fi
cat >"$OUT_DIR/.image.json.tmp" <<EOF
{
  "kernelRelease": "$KREL",
  "kernelPackage": "$KPKG",
  "kernelPackageVersion": "$KVER",
  "busyboxVersion": "$BUSYBOX_VERSION",
  "vmlinux": $HAS_VMLINUX,
  "modules": $(json_list "${LOADED[@]}"),
  "builtinModules": $(json_list "${BUILTIN[@]}"),
  "moduleExtensions": $(json_list "${MODULE_EXTS[@]}"),
  "scriptHash": "$SCRIPT_HASH",
  "buildDate": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
mv "$OUT_DIR/.image.json.tmp" "$OUT_DIR/image.json"
log "wrote $OUT_DIR/vmlinuz$($HAS_VMLINUX && echo ", $OUT_DIR/vmlinux"), $OUT_DIR/initrd.img ($(du -h "$OUT_DIR/initrd.img" | cut -f1)), $OUT_DIR/image.json"
