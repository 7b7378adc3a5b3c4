#!/usr/bin/env bash
# Slims the image's copy of the base rootfs toward the 256 MiB slot target (docs/IMAGE.md,
# "Size"). The cached base stays whole: what goes is decided here, at every build, so the list
# can change without a 37-minute mmdebstrap.
# Usage: flash/slim-rootfs.sh ROOTFS
set -euo pipefail
R=$1
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "image: $*" >&2; }
before=$(du -sm "$R" | cut -f1)

# Perl came only with usrmerge (an install-time tool); apt has nothing to do on a read-only
# root that RAUC updates whole. dpkg runs inside the arm64 root through qemu-user.
chroot "$R" dpkg --purge --force-depends --force-remove-essential \
  usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl \
  perl libperl5.36 perl-modules-5.36 apt libapt-pkg6.0 >/dev/null 2>&1 ||
  { say "dpkg --purge failed"; exit 1; }

# glibc's charset converters: nothing on the appliance converts anything but UTF-8.
find "$R/usr/lib/aarch64-linux-gnu/gconv" -name '*.so' \
  ! -name 'UTF-*' ! -name 'UNICODE.so' ! -name 'ISO8859-1.so' -delete
# udev's hardware database only names devices for humans; its sources are build-time input.
rm -rf "$R/usr/lib/udev/hwdb.d" "$R/usr/lib/udev/hwdb.bin"

# Kernel modules: the allow-list and everything its modules depend on (modules.dep already
# holds each module's whole dependency chain), then a fresh depmod.
kver=$(basename "$(ls -d "$R"/lib/modules/* | sort -V | tail -1)")
m="$R/lib/modules/$kver"
awk -v keep="$here/modules-keep.txt" '
  BEGIN { while ((getline l < keep) > 0) if (l !~ /^[ \t]*(#|$)/) p["kernel/" l] = 1 }
  {
    mod = substr($1, 1, length($1) - 1); all[mod] = 1
    for (s = mod; ; s = substr(s, 1, i - 1)) {
      if (s in p) { k[mod] = 1; for (j = 2; j <= NF; j++) k[$j] = 1; break }
      if (!(i = match(s, /\/[^\/]*$/))) break
    }
  }
  END { for (x in all) if (!(x in k)) print x }' "$m/modules.dep" |
  (cd "$m" && xargs -r rm -f)
find "$m/kernel" -type d -empty -delete
chroot "$R" depmod -a "$kver"
if ! grep -q '/vivid.ko:' "$m/modules.dep"; then
  say "the module allow-list lost vivid (the VM's camera)"
  exit 1
fi
say "slimmed the root from ${before} MiB to $(du -sm "$R" | cut -f1) MiB"
