#!/usr/bin/env bash
# Scale benchmark of elbusd against busrtd 0.5.6 (bench/scale.rs): broker memory per idle client,
# broadcasts to name masks over many connected clients, fan-out of one topic to many subscribers.
# Each scenario runs on fresh brokers, elbusd then busrtd, every round; the table at the end has
# per-broker medians and the elbusd / busrtd ratio.
#
#   bench/scale.sh [--clients 10000] [--subscribers 1000] [--rounds 3] [-w 4] [OPTIONS]
#
# Every option goes to the benchmark program (`bench/scale.sh --help` lists them). One socket per
# client is open in this process and in the broker, so the soft `ulimit -n` is raised as far as
# the hard limit allows first.
set -euo pipefail
cd "$(dirname "$0")/.."

bash bench/install-busrt.sh
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ]; then
    ulimit -Sn 1048576 || true
else
    ulimit -Sn "$hard" || true
fi
echo "ulimit -n: $(ulimit -Sn) (hard $(ulimit -Hn))"

cargo build --release --bin elbusd
exec cargo bench --bench scale -- \
    --busrtd "$CARGO_BIN/busrtd" --elbusd target/release/elbusd "$@"
