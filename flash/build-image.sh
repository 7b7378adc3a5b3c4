#!/usr/bin/env bash
# `make image MACHINE=qemu-arm64|rpi4|rpi5`: the flashable card image
# out/camvault-<version>-<machine>.img (+ .bmap, .img.zst) from the static aarch64 camvault,
# overlay/, flash/image-overlay/ and Debian bookworm arm64 packages. No loop mounts: the base
# rootfs comes from mmdebstrap (flash/rootfs.sh, cached), filesystems from `mkfs.ext4 -d` and
# mkfs.vfat + mcopy, the GPT from genimage. Layout and why: docs/IMAGE.md.
set -euo pipefail
machine=${1:-qemu-arm64}
tag=image
# shellcheck source=flash/lib.sh
. "$(dirname "$0")/lib.sh"

version=$cargo_version
bin="$repo/target/aarch64-unknown-linux-musl/release/camvault"
[ -x "$bin" ] || { say "no $bin: run make cross-aarch64 first"; exit 1; }
ffmpeg_dir=$("$repo/scripts/lean-ffmpeg.sh" aarch64)
rootfs_src=$("$here/rootfs.sh" "$machine")

out="$repo/out"
work="$out/work-$machine"
rm -rf "$work"
mkdir -p "$work/boot" "$work/data" "$work/genimage-tmp"
R="$work/rootfs"
say "copying the base rootfs"
cp -a "$rootfs_src" "$R"

say "laying camvault over it"
cp -a "$repo/overlay/." "$R/"
cp -a "$here/image-overlay/." "$R/"
sed -i "s/@COMPATIBLE@/$COMPATIBLE/" "$R/etc/rauc/system.conf"
install -m 0755 "$bin" "$R/usr/bin/camvault"
install -m 0755 "$ffmpeg_dir/bin/ffmpeg" "$R/usr/bin/ffmpeg"
install -m 0755 "$ffmpeg_dir/bin/ffprobe" "$R/usr/bin/ffprobe"
# The `test:` camera's clip, made here (the image's ffmpeg has no test pattern encoder need).
clip="$cache/testsrc-640x360-25.mp4"
if [ ! -s "$clip" ]; then
  ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=25:duration=10 \
    -f lavfi -i sine=frequency=440:sample_rate=48000:duration=10 -c:v libx264 -preset ultrafast \
    -g 25 -pix_fmt yuv420p -b:v 1M -c:a aac -b:a 64k -shortest "$clip.tmp.mp4"
  mv "$clip.tmp.mp4" "$clip"
fi
install -D -m 0644 "$clip" "$R/usr/share/camvault/testsrc-640x360-25.mp4"
# The OTA keyring: the release key's certificate, or a development pair made once.
keys="${CAMVAULT_OTA_KEYS:-$cache/ota-dev}"
if [ ! -s "$keys/cert.pem" ]; then
  say "no OTA signing key given: making a development pair in $keys"
  mkdir -p "$keys" && chmod 700 "$keys"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$keys/key.pem" -out "$keys/cert.pem" -days 3650 -subj "/CN=camvault development" 2>/dev/null
fi
install -D -m 0644 "$keys/cert.pem" "$R/etc/camvault/ota-keyring.pem"
# The release this slot holds (a bundle rewrites it): the version OTA compares and shows.
echo "$version" >"$R/etc/camvault/release"

say "system settings"
systemd-sysusers --root="$R" >/dev/null
systemctl --root="$R" enable systemd-networkd.service systemd-resolved.service \
  systemd-timesyncd.service camvault.service camvault-firstboot.service \
  camvault-growpart.service camvault-reboot.path camvault-ota-guard.timer >/dev/null 2>&1
systemctl --root="$R" mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true
# e2scrub checks ext4 on LVM through snapshots; the card has no LVM, and its boot-time
# reaper alone took 7 s of a 30 s start under qemu.
systemctl --root="$R" mask e2scrub_reap.service e2scrub_all.timer >/dev/null 2>&1 || true
: >"$R/etc/machine-id"
rm -f "$R"/etc/ssh/ssh_host_*
mkdir -p "$R/boot/firmware" "$R/var/lib/camvault"
# Each slot carries its own kernel, initramfs and device trees, at fixed names.
kver=$(basename "$(ls -d "$R"/lib/modules/* | sort -V | tail -1)")
# Debian's arm64 kernel is an uncompressed Image (33 MiB); U-Boot's booti inflates a gzipped
# one (boot.cmd.in sets kernel_comp_addr_r), which saves 22 MiB in each slot.
gzip -9 -n -c "$R/boot/vmlinuz-$kver" >"$R/boot/vmlinuz-$kver.gz"
rm -f "$R/boot/vmlinuz-$kver"
ln -sf "vmlinuz-$kver.gz" "$R/boot/vmlinuz"
ln -sf "initrd.img-$kver" "$R/boot/initrd.img"
rm -rf "$R/boot/dtbs" && mkdir -p "$R/boot/dtbs"
if [ -d "$R/usr/lib/linux-image-$kver/broadcom" ]; then
  cp -a "$R/usr/lib/linux-image-$kver/broadcom" "$R/boot/dtbs/"
fi
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/* "$R"/var/log/* "$R/usr/lib/linux-image-$kver"
B="$work/boot"
case "$machine" in
rpi*)
  # The boot partition gets the GPU firmware, the firmware's device trees and U-Boot; the
  # slot keeps none of them (RAUC updates slots, not the boot partition), nor the copies
  # raspi-firmware's kernel hook left in /boot/firmware, where the partition is mounted.
  cp -a "$R"/usr/lib/raspi-firmware/* "$B/"
  found=0
  for dtb in $FIRMWARE_DTBS; do
    if [ -f "$R/boot/dtbs/broadcom/$dtb" ]; then
      cp "$R/boot/dtbs/broadcom/$dtb" "$B/" && found=$((found + 1))
    else
      say "warning: kernel $kver has no $dtb"
    fi
  done
  [ "$found" -gt 0 ] || { say "kernel $kver has none of $FIRMWARE_DTBS: this machine needs a newer kernel"; exit 1; }
  cp "$R/usr/lib/u-boot/rpi_arm64/u-boot.bin" "$B/u-boot.bin"
  cp "$here/machines/$machine/config.txt" "$B/config.txt"
  rm -rf "$R/usr/lib/raspi-firmware" "$R/usr/lib/u-boot" "$R"/boot/firmware/*
  # Wi-Fi firmware: the Pi 4's, 400's and 5's chips (43455, 43456) only.
  find "$R/usr/lib/firmware/brcm" "$R/usr/lib/firmware/cypress" ! -type d ! -name '*4345[56]*' -delete
  ;;
esac
"$here/slim-rootfs.sh" "$R"

say "filesystems"
root_kib=$(du -sk "$R" | cut -f1)
# The slot: content plus 15 % (and room for inodes), in whole MiB.
slot_mib=$(( (root_kib * 115 / 100) / 1024 + 24 ))
mkfs.ext4 -q -F -L rootfs -d "$R" -E lazy_itable_init=0 -O ^metadata_csum_seed \
  "$work/rootfs.ext4" "${slot_mib}M"
mkfs.ext4 -q -F -L data -E lazy_itable_init=0 "$work/data.ext4" 64M

cat >"$work/boot.env" <<EOF
BOOT_ORDER=A B
BOOT_A_LEFT=3
BOOT_B_LEFT=3
EOF
mkenvimage -s 0x4000 -o "$B/uboot.env" "$work/boot.env"
{
  echo "# Generated by flash/build-image.sh for $machine from flash/boot.cmd.in."
  sed -e "s|@LOAD_ENV@|$LOAD_ENV|" -e "s|@SAVE_ENV@|$SAVE_ENV|g" -e "s|@CONSOLE@|$CONSOLE|" \
    -e "s|@LOAD_FDT@|$LOAD_FDT|" -e "s|@KERNEL_COMP_ADDR@|$KERNEL_COMP_ADDR|" "$here/boot.cmd.in"
} >"$work/boot.cmd"
mkimage -q -A arm64 -T script -C none -n "camvault boot" -d "$work/boot.cmd" "$B/boot.scr"
cp "$here/boot-README.txt" "$B/README.txt"
cp "$repo/overlay/etc/camvault/camvault.toml" "$B/camvault.toml.example"
mkfs.vfat -C -n BOOT "$work/boot.vfat" $((64 * 1024)) >/dev/null
mcopy -s -i "$work/boot.vfat" "$B"/* ::/

say "assembling the GPT image"
img="camvault-$version-$machine.img"
cat >"$work/genimage.cfg" <<EOF
image $img {
  hdimage {
    partition-table-type = "gpt"
    # SD cards erase in 4 MiB units: partitions on such boundaries spare them read-modify-write.
    align = 4M
  }
  partition boot {
    offset = 4M
    image = "boot.vfat"
    partition-type-uuid = "F"
    bootable = true
  }
  partition rootfs-a {
    image = "rootfs.ext4"
    partition-type-uuid = "L"
  }
  partition rootfs-b {
    image = "rootfs.ext4"
    partition-type-uuid = "L"
  }
  partition data {
    image = "data.ext4"
    partition-type-uuid = "L"
  }
}
EOF
rm -f "$out/$img"
genimage --config "$work/genimage.cfg" --inputpath "$work" --outputpath "$out" \
  --rootpath "$work/data" --tmppath "$work/genimage-tmp" >/dev/null
bmaptool -q create -o "$out/$img.bmap" "$out/$img"
# -19 keeps the download under 150 MB (about 3 minutes here); the VM test, which never reads
# the .zst, asks for a quick level.
zstd -q -f -T0 "-${CAMVAULT_ZSTD_LEVEL:-19}" "$out/$img" -o "$out/$img.zst"

bytes() { numfmt --to=iec-i --suffix=B "$1"; }
say "wrote out/$img: $(bytes "$(stat -c %s "$out/$img")"), compressed $(bytes "$(stat -c %s "$out/$img.zst")")"
say "  boot 64 MiB (boot.scr, uboot.env$([ "${machine#rpi}" != "$machine" ] && echo ", Pi firmware, U-Boot"))"
say "  rootfs-a, rootfs-b: ${slot_mib} MiB each ($(bytes $((root_kib * 1024))) used): Debian bookworm arm64, kernel $kver"
say "  camvault $version ($(bytes "$(stat -c %s "$bin")")), ffmpeg+ffprobe $(bytes $(( $(stat -c %s "$ffmpeg_dir/bin/ffmpeg") + $(stat -c %s "$ffmpeg_dir/bin/ffprobe") )))"
say "  data 64 MiB (grows to fill the card on first boot)"
rm -rf "$work/rootfs"
echo "$out/$img"
