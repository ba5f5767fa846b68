#!/usr/bin/env bash
# Federation benchmark (bench/federation.rs): two elbusd nodes over one nats-server against
# two raw async-nats clients on it. RPC round trip a -> svc@b -> reply and publish throughput
# a -> b, elbus and raw NATS alternating each round; prints medians and the elbus / raw ratios.
#
#   bench/federation.sh [--rounds 3] [--calls 5000] [--messages 200000] [--payload 64]
#
# nats-server comes from $NATS_SERVER, else beside $ELBUS_PYTHON, else .venv/bin (as the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin elbusd
exec cargo bench --bench federation -- --elbusd target/release/elbusd "$@"
