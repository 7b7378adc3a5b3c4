#!/usr/bin/env bash
# Relay: 20 clips to nginx-rtmp, camvault (one session) vs seed 003's one ffmpeg per file.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
exec /usr/bin/python3 bench/relay.py "$@"
