#!/usr/bin/env bash
# qemu-system-aarch64 for the image's VM tests. apt refuses Debian's qemu-system-arm next to
# the machine's backported qemu-utils, so its packages are downloaded and unpacked into the
# cache instead (their libraries come from apt). Prints the binary's path; the BIOS files
# are under $(dirname binary)/../share/qemu.
set -euo pipefail
cache="${CAMVAULT_CACHE:-$HOME/.cache/camvault}/qemu-system"
bin="$cache/usr/bin/qemu-system-aarch64"
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi
echo "qemu-system: downloading Debian's qemu-system-arm (once)" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcapstone4 libpmem1 librdmacm1 \
  libibverbs1 libslirp0 libvdeplug2 libfdt1 libaio1 liburing2 libjpeg62-turbo libpng16-16 \
  libnuma1 libusb-1.0-0 libusbredirparser1 libglib2.0-0 libpixman-1-0 libseccomp2 \
  libzstd1 libgnutls30 libsasl2-2 libnettle8 socat >&2
mkdir -p "$cache/debs"
(cd "$cache/debs" && apt-get download -qq qemu-system-arm qemu-system-common qemu-system-data >&2)
for d in "$cache"/debs/*.deb; do
  dpkg-deb -x "$d" "$cache"
done
"$bin" --version >/dev/null
echo "$bin"
