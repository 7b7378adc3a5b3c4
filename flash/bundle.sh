#!/usr/bin/env bash
# `make bundle MACHINE=... [VERSION=...] [EPOCH=...]`: out/camvault-<version>-<machine>.raucb,
# a RAUC bundle (verity format) of the root slot `make image` last built for MACHINE, signed
# with the OTA key pair: CAMVAULT_OTA_KEYS (a folder with cert.pem and key.pem) or the
# development pair the image build made in ~/.cache/camvault/ota-dev, whose certificate every
# image built here trusts. EPOCH is the security epoch (default 0).
set -euo pipefail
machine=${1:-qemu-arm64}
tag=bundle
# shellcheck source=flash/lib.sh
. "$(dirname "$0")/lib.sh"
version=${2:-$cargo_version}
epoch=${3:-0}
keys="${CAMVAULT_OTA_KEYS:-$cache/ota-dev}"
# CAMVAULT_BUNDLE_ROOTFS: another slot image to bundle (the tests' deliberately broken one).
slot="${CAMVAULT_BUNDLE_ROOTFS:-$repo/out/work-$machine/rootfs.ext4}"
[ -s "$slot" ] || { say "no root slot in $slot: run make image MACHINE=$machine first"; exit 1; }
[ -s "$keys/key.pem" ] || { say "no signing key $keys/key.pem"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp --sparse=always "$slot" "$dir/rootfs.ext4"
# The slot says which release it is (/etc/camvault/release, what camvault shows and compares).
echo "$version" >"$dir/release"
debugfs -w -R "rm /etc/camvault/release" "$dir/rootfs.ext4" >/dev/null 2>&1 || true
debugfs -w -R "write $dir/release /etc/camvault/release" "$dir/rootfs.ext4" >/dev/null
rm "$dir/release"
# The security epoch rides in the version's build metadata: Debian's RAUC 1.8 drops [meta.*]
# sections when it signs (src/ota/manifest.rs).
signed_version=$version
[ "$epoch" = 0 ] || signed_version="$version+epoch.$epoch"
cat >"$dir/manifest.raucm" <<MANIFEST
[update]
compatible=$COMPATIBLE
version=$signed_version
description=camvault $version for $machine
build=$(date -u +%Y%m%dT%H%M%SZ)

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MANIFEST
out="$repo/out/camvault-$version-$machine.raucb"
rm -f "$out"
rauc bundle --cert="$keys/cert.pem" --key="$keys/key.pem" "$dir" "$out" >&2
rauc info --keyring="$keys/cert.pem" "$out" >&2
say "wrote ${out#"$repo"/}: $(du -h "$out" | cut -f1), compatible $COMPATIBLE, version $version, epoch $epoch"
echo "$out"
