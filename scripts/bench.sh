#!/usr/bin/env bash
# Runs every benchmark under bench/, each comparing camvault with a named peer on the same
# input and printing the ratio. The uploader (vs boto3, aws CLI, rclone on one Garage) and the
# recorder (vs ffmpeg alone) add theirs here.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
benches=(bench/*.sh)
if [ ${#benches[@]} -eq 0 ]; then
  echo "bench: no benchmarks yet (the uploader and recorder issues add them under bench/)"
  exit 0
fi
for b in "${benches[@]}"; do
  echo "== $b"
  "$b"
done
