# Sourced by flash/build-image.sh and flash/bundle.sh: the paths they share, the machine's
# settings (flash/machines/<machine>/machine.sh) and the image tools. Set `machine` and
# `tag` (the prefix of messages) before sourcing.
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache="${CAMVAULT_CACHE:-$HOME/.cache/camvault}"
say() { echo "$tag: $*" >&2; }

[ -f "$here/machines/$machine/machine.sh" ] || { say "unknown MACHINE $machine (qemu-arm64, rpi4, rpi5)"; exit 2; }
# shellcheck source=/dev/null
. "$here/machines/$machine/machine.sh"
"$here/deps.sh"
cargo_version=$(awk -F'"' '/^version *=/ {print $2; exit}' "$repo/Cargo.toml")
