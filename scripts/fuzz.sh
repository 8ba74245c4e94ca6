#!/usr/bin/env bash
# Runs each fuzz target of fuzz/ (cargo-fuzz, libFuzzer) for a set time and
# fails when one of them finds a crash, a failed check or a hang.
#
#   FUZZ_SECONDS    seconds per target (default 60)
#   FUZZ_TARGETS    targets to run (default: every target, see `cargo fuzz list`)
#   FUZZ_SANITIZER  address (default) or none
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain take them. The corpus of each target lives in fuzz/corpus/TARGET
# (kept between runs, never committed) and is seeded from examples/okta/.
# A failing input is saved under fuzz/artifacts/TARGET/; the full output of
# each run is in fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "Installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"

echo "Building ${targets[*]} (sanitizer: $sanitizer)"
started=$SECONDS
cargo fuzz build --sanitizer "$sanitizer"
echo "Built in $((SECONDS - started)) s"

mkdir -p fuzz/logs
failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    cp -n examples/okta/*.json "$corpus/"
    log="fuzz/logs/$target.log"
    echo "Fuzzing $target for $seconds s (corpus $corpus, log $log)"
    if cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" |
            sed "s/^/  $target /" || true
    else
        failed+=("$target")
        echo "FAILED: $target found a failing input; see $log"
        grep -A1 -E "panicked at|^SUMMARY|ERROR: AddressSanitizer|Test unit written to" "$log" |
            grep -v -E '^(--|INFO|MS:|Base64)' |
            cut -c1-300 | sed 's/^/  /' || true
        for input in "fuzz/artifacts/$target"/*; do
            [ -e "$input" ] || continue
            echo "  failing input: $input"
            echo "  reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $target $input"
        done
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "Fuzzing failed: ${failed[*]}"
    exit 1
fi
echo "Fuzzing passed: ${targets[*]}, $seconds s each"
