#!/usr/bin/env bash
# Uploader: one 1 GiB file to the same Garage with camvault, boto3, aws CLI and rclone.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rclone >/dev/null || { echo "bench: apt-get install rclone"; apt-get install -y -qq rclone; }
command -v aws >/dev/null || { echo "bench: pip install awscli"; python3 -m pip install -q awscli; }
cargo build --release --locked --quiet
python3 bench/upload.py "$@"
python3 bench/upload.py --https "$@"
