#!/usr/bin/env bash
# The load benchmark: installs wrk when it is missing, builds in release mode
# and runs benches/load.rs, which starts a bare axum handler, then the
# service with a fresh store and a Slack stand-in, and prints every figure.
# Knobs (environment): BENCH_SECONDS, BENCH_WARMUP_SECONDS, BENCH_CONNECTIONS,
# BENCH_THREADS, BENCH_LATENCY_SAMPLES, BENCH_LATENCY_RATE (see the bench).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "wrk is missing: install it (Debian: apt-get install wrk) or run this as root" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo bench --locked --bench load
