#!/usr/bin/env bash
# Recorder: camvault with 8 RTSP cameras (recording with Debian's ffmpeg, then the lean one)
# vs 8 bare ffmpeg processes, same camera, same 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
lean=$(./scripts/lean-ffmpeg.sh)
exec /usr/bin/python3 bench/recorder.py --lean "$lean" "$@"
