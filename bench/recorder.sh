#!/usr/bin/env bash
# Recorder: camvault with 8 RTSP cameras vs 8 bare ffmpeg processes, same camera, same 60 s.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
exec /usr/bin/python3 bench/recorder.py "$@"
