#!/usr/bin/env bash
# Writes a camvault image to a card, safely:  flash/flash.sh IMAGE DEVICE [--yes] [--force]
#
# Refuses the disk holding /, any disk with a mounted partition, a disk smaller than the
# image, and (without --force) a disk the kernel does not call removable. Says what it will
# overwrite (model, size) and asks unless --yes. Writes with bmaptool (only the image's used
# blocks, each range checked against the .bmap's checksums). DEVICE may also be a regular
# file. CAMVAULT_SYS and CAMVAULT_MOUNTS point the checks at other /sys and /proc/mounts
# (the tests' fixtures).
set -euo pipefail
sys="${CAMVAULT_SYS:-/sys}"
mounts="${CAMVAULT_MOUNTS:-/proc/mounts}"
die() { echo "flash: $*" >&2; exit 1; }

yes=0 force=0 args=()
for a in "$@"; do
  case "$a" in
  --yes) yes=1 ;;
  --force) force=1 ;;
  -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
  -*) die "unknown option $a" ;;
  *) args+=("$a") ;;
  esac
done
[ ${#args[@]} -eq 2 ] || { sed -n '2p' "$0" >&2; exit 2; }
image=${args[0]} device=${args[1]}
[ -f "$image" ] || die "no image $image"
bmap="$image.bmap"
[ -f "$bmap" ] || die "no $bmap next to the image (make image writes it)"
image_bytes=$(stat -c %s "$image")

# The whole disk a /dev path belongs to (sda1 → sda, mmcblk0p2 → mmcblk0), by sysfs.
disk_of() {
  local n
  n=$(basename "$(readlink -f "$1" 2>/dev/null || echo "$1")")
  if [ -e "$sys/class/block/$n/partition" ]; then
    basename "$(dirname "$(readlink -f "$sys/class/block/$n")")"
  else
    echo "$n"
  fi
}

name=$(basename "$device")
if [ -e "$sys/block/$name" ]; then
  while read -r src target _; do
    case "$src" in /dev/*) ;; *) continue ;; esac
    d=$(disk_of "$src")
    [ "$d" = "$name" ] || continue
    [ "$target" = / ] && die "$device holds the running system (/): refusing"
    die "$device has a mounted partition ($src on $target): unmount it first"
  done <"$mounts"
  disk_bytes=$(($(cat "$sys/block/$name/size") * 512))
  [ "$disk_bytes" -ge "$image_bytes" ] ||
    die "$device ($disk_bytes bytes) is smaller than the image ($image_bytes bytes)"
  removable=$(cat "$sys/block/$name/removable" 2>/dev/null || echo 0)
  model=$(cat "$sys/block/$name/device/model" 2>/dev/null | xargs || true)
  if [ "$removable" != 1 ] && [ $force -eq 0 ]; then
    die "$device (${model:-unknown model}) is not a removable disk: add --force if it really is the card"
  fi
  what="$device: ${model:-unknown model}, $(numfmt --to=iec-i --suffix=B "$disk_bytes")"
elif [ -b "$device" ]; then
  die "$device is not in $sys/block (a partition? give the whole disk)"
elif [ -e "$device" ] && [ ! -f "$device" ]; then
  die "$device is neither a disk nor a regular file"
else
  what="$device (a file)"
fi

echo "flash: will overwrite $what with $(basename "$image")"
if [ $yes -eq 0 ]; then
  read -r -p "Type yes to go on: " answer
  [ "$answer" = yes ] || die "nothing written"
fi
command -v bmaptool >/dev/null || die "bmaptool is missing: apt-get install bmap-tools"
bmaptool -q copy --bmap "$bmap" "$image" "$device"
sync
echo "flash: written and verified ($what)"
