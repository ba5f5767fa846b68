#!/usr/bin/env bash
# Four-way benchmark: {busrt CLI, elbus CLI} x {busrtd, elbusd} alternating in one run, per-stage
# medians, the full-stack ratio (elbus CLI -> elbusd) / (busrt CLI -> busrtd), the broker-alone
# ratio (busrt CLI -> elbusd) / (busrt CLI -> busrtd), each client's and broker's CPU µs per
# iteration, and the raw one-way UNIX socket rate beside the send stages (bench/four_way.py).
#
#   bench/four-way.sh [--rounds 3] [--workers 8] [--iters 1000000] [--payload 100]
#                     [--broker-workers N] [--markdown]
#
# Large payloads: --payload 65536 --iters 20000, --payload 1048576 --iters 4000.
set -euo pipefail
cd "$(dirname "$0")/.."

bash bench/install-busrt.sh
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
cargo build --release --bin elbusd --bin elbus
exec python3 bench/four_way.py \
    --busrt "$CARGO_BIN/busrt" --busrtd "$CARGO_BIN/busrtd" \
    --elbusd target/release/elbusd --elbus target/release/elbus "$@"
