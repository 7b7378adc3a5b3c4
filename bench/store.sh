#!/usr/bin/env bash
# Scale: the daemon on a year of history (1,000,000 segment rows, two cameras at 1-minute
# segments) against the same daemon on 10,000 rows, the same footage on the card. Target:
# every figure at 1 M rows at most 1.5 x the figure at 10 k, start-up under 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example store_scale
exec ./target/release/examples/store_scale --camvault target/release/camvault "$@"
