#!/usr/bin/env bash
# Installs what `make test` and `make cross` need, skipping whatever is already present, and
# says what it does. Debian/Ubuntu (apt-get), rustup and pip; run as root or with sudo.
set -euo pipefail

say() { printf 'deps: %s\n' "$*"; }
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${CAMVAULT_CACHE:-$HOME/.cache/camvault}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
# `deps.sh demo` installs only what the demo needs.
# The v4l crate's build runs bindgen, which needs libclang.
have_libclang() { compgen -G '/usr/lib/llvm-*/lib/libclang.so' >/dev/null; }
if [ "${1:-}" = "demo" ]; then
  command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
  have_libclang || need_apt+=(libclang-dev)
  if [ ${#need_apt[@]} -gt 0 ]; then
    say "apt-get install ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
  fi
  exit 0
fi
command -v qemu-aarch64-static >/dev/null || need_apt+=(qemu-user-static)
have_libclang || need_apt+=(libclang-dev)
# OTA: RAUC makes the tests' bundles (mksquashfs), openssl checks them.
command -v rauc >/dev/null || need_apt+=(rauc)
command -v mksquashfs >/dev/null || need_apt+=(squashfs-tools)
[ -e /usr/aarch64-linux-gnu/include/asm/types.h ] || need_apt+=(linux-libc-dev-arm64-cross)
command -v arm-linux-gnueabihf-gcc >/dev/null || need_apt+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
command -v systemd-analyze >/dev/null || need_apt+=(systemd)
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pip3 >/dev/null || command -v pip >/dev/null || need_apt+=(python3-pip)
# The recorder's real peers: ffmpeg/ffprobe, and a GStreamer RTSP server as the IP camera.
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
# The lean recording ffmpeg (scripts/lean-ffmpeg.sh) is built from Debian's source package.
command -v dpkg-source >/dev/null || need_apt+=(dpkg-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# Home Assistant's venv (scripts/home-assistant.sh).
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v xz >/dev/null || need_apt+=(xz-utils)
# MQTT's real peer: mosquitto (and openssl for the TLS test's certificates).
command -v mosquitto >/dev/null || need_apt+=(mosquitto mosquitto-clients)
command -v openssl >/dev/null || need_apt+=(openssl)
# The relay's real peers: nginx with the RTMP module, and curl as the cameras' FTP client.
[ -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need_apt+=(nginx libnginx-mod-rtmp)
command -v curl >/dev/null || need_apt+=(curl)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v ip >/dev/null || need_apt+=(iproute2)
/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' 2>/dev/null \
  || need_apt+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
                gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
# What `make image` needs, also from apt: every apt-get is done before the background builds.
$SUDO "$repo/flash/deps.sh"

# The long builds that need no Rust (the lean ffmpegs, the image's base rootfs) run in the
# background while Garage compiles below; on a fresh machine that saves most of their 17
# minutes. Each is cached, so on a warm machine this finds everything done at once.
prewarm_log="$cache/prewarm.log"
mkdir -p "$cache"
(
  set -e
  "$repo/scripts/lean-ffmpeg.sh" >/dev/null
  "$repo/scripts/lean-ffmpeg.sh" aarch64 >/dev/null
  "$repo/flash/rootfs.sh" qemu-arm64 >/dev/null
) >"$prewarm_log" 2>&1 &
prewarm=$!

for t in aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf; do
  if ! rustup target list --installed | grep -qx "$t"; then
    say "rustup target add $t"
    rustup target add "$t"
  fi
done

# The uploader's tests read the bucket back with an independent client: boto3.
if ! python3 -c 'import boto3' 2>/dev/null; then
  say "pip install boto3"
  python3 -m pip install --quiet boto3 || python3 -m pip install --quiet --break-system-packages boto3
fi
# The LAN tests (tests/lan.rs): Home Assistant's mDNS library as the browser, the Prometheus
# text parser, a WS-Discovery publisher for the fake ONVIF camera, and Pillow to look at the
# status page's screenshot; headless Chromium renders the page.
if ! python3 -c 'import zeroconf, prometheus_client, wsdiscovery, PIL' 2>/dev/null; then
  say "pip install zeroconf prometheus_client wsdiscovery pillow"
  python3 -m pip install --quiet zeroconf prometheus_client wsdiscovery pillow \
    || python3 -m pip install --quiet --break-system-packages zeroconf prometheus_client wsdiscovery pillow
fi
# The test servers are built at opt-level 1: about half the compile time of the default 3, and
# the servers stay far faster than the loopback tests need (the benchmarks compare clients
# against the same server, so its speed cancels out).
slim_release() { CARGO_PROFILE_RELEASE_OPT_LEVEL=1 "$@"; }
# The S3 server the uploader is tested against (a long build, once per machine).
if ! command -v garage >/dev/null; then
  say "cargo install garage --version 2.5.0 --locked (about 20 minutes, once)"
  slim_release cargo install garage --version 2.5.0 --locked
fi
# s3s-fs answers RequestTimeTooSkewed past 15 min (Garage does not): the clock-skew test.
if ! command -v s3s-fs >/dev/null; then
  say "cargo install s3s-fs --version 0.14.1 --features binary --locked (about 4 minutes, once)"
  slim_release cargo install s3s-fs --version 0.14.1 --features binary --locked
fi
if ! python3 -m ziglang version >/dev/null 2>&1; then
  say "pip install ziglang (the linker cargo-zigbuild drives)"
  python3 -m pip install --quiet ziglang || python3 -m pip install --quiet --break-system-packages ziglang
fi
if ! command -v cargo-zigbuild >/dev/null; then
  say "cargo install --locked cargo-zigbuild"
  cargo install --locked cargo-zigbuild
fi
# A real Home Assistant Core for tests/home_assistant.rs, in a cached venv.
"$repo/scripts/home-assistant.sh"
if ! wait "$prewarm"; then
  tail -n 40 "$prewarm_log" >&2
  say "the background builds failed (lean ffmpeg or the base rootfs): $prewarm_log"
  exit 1
fi
say "all present"
