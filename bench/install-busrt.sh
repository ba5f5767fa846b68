#!/usr/bin/env bash
# Installs the reference peers, busrtd and the busrt CLI 0.5.6, from crates.io unless that
# version is already in cargo's bin directory. Used by .ci/run and the benchmarks.
set -euo pipefail

BUSRT_VERSION=0.5.6
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

# busrtd has no --version; the CLI from the same crate does.
if [ -x "$CARGO_BIN/busrtd" ] && [ "$("$CARGO_BIN/busrt" --version 2>/dev/null)" = "busrt $BUSRT_VERSION" ]; then
    echo "busrt $BUSRT_VERSION already installed: $CARGO_BIN/busrtd"
else
    # The crate ships a Cargo.lock that resolves with --locked.
    cargo install busrt --version "$BUSRT_VERSION" --features server,cli --locked
fi
if [ "$("$CARGO_BIN/busrt" --version)" != "busrt $BUSRT_VERSION" ]; then
    echo "busrt $BUSRT_VERSION is not what $CARGO_BIN/busrt reports" >&2
    exit 1
fi
"$CARGO_BIN/busrtd" --help > /dev/null
