#!/usr/bin/env bash
# Side-by-side benchmark of elbusd and busrtd 0.5.6 with the published busrt CLI benchmark:
# A B A B A B runs, per-stage medians, the elbus/busrtd ratio, the CPU time the broker and the
# benchmark client spent in each stage, and how busy the client's busiest thread was (a stage
# where it is close to 100% is bound by the client, not the broker). elbusd runs at its
# defaults, busrtd with the worker count elbusd reports; --broker-workers N sets both.
#
#   bench/vs-busrt.sh [ROUNDS=3] [CLIENT_WORKERS=8] [ITERS=1000000] [PAYLOAD=100] [--broker-workers N]
set -euo pipefail
cd "$(dirname "$0")/.."

bash bench/install-busrt.sh
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
cargo build --release --bin elbusd
exec python3 bench/vs_busrt.py \
    --busrt "$CARGO_BIN/busrt" --busrtd "$CARGO_BIN/busrtd" --elbusd target/release/elbusd "$@"
