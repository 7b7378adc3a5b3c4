#!/usr/bin/env bash
# Builds (once) the Debian bookworm arm64 base root filesystem of the image as a folder,
# cached by the package lists' hash under ${CAMVAULT_CACHE:-~/.cache/camvault}. mmdebstrap
# runs the arm64 maintainer scripts through qemu-user (binfmt_misc), so no loop mounts.
# Usage: flash/rootfs.sh MACHINE   prints the folder's path.
set -euo pipefail
machine=${1:-qemu-arm64}
here=$(cd "$(dirname "$0")" && pwd)
cache="${CAMVAULT_CACHE:-$HOME/.cache/camvault}"
say() { echo "rootfs: $*" >&2; }

lists=("$here/packages-base.txt")
[ -f "$here/machines/$machine/packages.txt" ] && lists+=("$here/machines/$machine/packages.txt")
packages=$(grep -hv '^\s*#' "${lists[@]}" | awk 'NF' | sort -u | paste -sd, -)
key=$(printf '%s\n' "$packages" | sha256sum | cut -c1-12)
out="$cache/rootfs-$machine-$key"
# A base built before the initramfs hook existed carries Debian's "most" initramfs (29 MiB):
# give it the hook's small one, once.
small_initramfs() {
  [ -f "$1/etc/initramfs-tools/conf.d/camvault.conf" ] && return 0
  say "making the small initramfs in $1 (once)"
  "$here/rootfs-initramfs-hook.sh" "$1"
  chroot "$1" update-initramfs -u -k all >&2
}
if [ -d "$out/usr" ]; then
  small_initramfs "$out"
  echo "$out"
  exit 0
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 >&2 || true
fi
mkdir -p "$cache"
say "mmdebstrap bookworm arm64 for $machine (about 10 minutes, once): $packages"
rm -rf "$out.partial"
mmdebstrap --arch=arm64 --variant=minbase --mode=root --format=directory --include="$packages" \
  --components=main,non-free-firmware \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --aptopt='APT::Install-Recommends "false"' \
  --essential-hook="$here/rootfs-initramfs-hook.sh \"\$1\"" \
  bookworm "$out.partial" \
  "deb http://deb.debian.org/debian bookworm main non-free-firmware" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main" >&2
mv "$out.partial" "$out"
echo "$out"
