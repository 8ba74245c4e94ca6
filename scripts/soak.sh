#!/usr/bin/env bash
# The soak test: builds in release mode and runs tests/soak.rs, which starts
# the service binary against a Slack stand-in that fails at random, posts
# about 500 reset events with Okta-style redeliveries, SIGKILLs and restarts
# the service several times, waits for the outbox to drain, prints what was
# sent, delivered, duplicated, lost and dead-lettered, and checks the bounds.
# It runs `soak_with_faults` and then `soak_clean` (no kills, no timeouts:
# no duplicate at all); a test name as argument runs only that one.
# Knobs (environment): SOAK_SEED, SOAK_EVENTS, SOAK_USERS, SOAK_BATCH_MAX,
# SOAK_KILLS, SOAK_TIMEOUT_PERCENT (see tests/soak.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --release --locked --test soak -- --ignored --nocapture --test-threads=1 "$@"
