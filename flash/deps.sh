#!/usr/bin/env bash
# What `make image` needs on the build machine (Debian/Ubuntu), installed when missing.
set -euo pipefail
need=()
for t in mmdebstrap:mmdebstrap genimage:genimage mkfs.vfat:dosfstools mcopy:mtools \
  mkimage:u-boot-tools mkenvimage:u-boot-tools bmaptool:bmap-tools zstd:zstd \
  mkfs.ext4:e2fsprogs sfdisk:fdisk update-binfmts:binfmt-support \
  qemu-aarch64-static:qemu-user-static aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
  openssl:openssl rauc:rauc mksquashfs:squashfs-tools; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
[ -e /usr/lib/u-boot/qemu_arm64/u-boot.bin ] || need+=(u-boot-qemu)
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] || need+=(libc6-dev-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
  echo "image deps: apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
