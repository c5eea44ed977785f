#!/usr/bin/env bash
# Runs every test: formatting, lints, all five backends with the conformance battery,
# the mutant check, the benches once each in criterion's test mode, the doc tests, and
# the third-party backend example. Installs missing system packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# A full run gains nothing from incremental compilation, and a clean build avoids stale
# incremental state in a shared target directory.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

log=$(mktemp -t kv-test.XXXXXX)
trap 'rm -f "$log"' EXIT
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "tests (every crate, benches in test mode)"
cargo test --locked --no-fail-fast --workspace --all-targets 2>&1 | tee "$log"

step "backend-url alone (default features: a rocks:// URL names the feature to enable)"
cargo test --locked -p backend-url 2>&1 | tee -a "$log"

step "slow: scanning 1M keys through backend-redis keeps client memory bounded"
cargo test --locked -p backend-redis --test scan_memory -- --ignored 2>&1 | tee -a "$log"

step "doc tests"
cargo test --locked --workspace --doc 2>&1 | tee -a "$log"

step "third-party backend example (public API only)"
(
    cd examples/third-party-backend
    cargo fmt -- --check
    cargo clippy --locked --all-targets -- -D warnings
    cargo test --locked 2>&1
) | tee -a "$log"

step "conformance skips (case: reason)"
grep -h 'conformance: SKIP' "$log" | sort | uniq -c || echo "none"

# Only libtest's summary lines count (a test's own output may say "N failed calls").
summaries=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$log" || true)
passed=$(awk '{s+=$4} END {print s+0}' <<<"$summaries")
failed=$(awk '{s+=$6} END {print s+0}' <<<"$summaries")
echo
echo "total: $passed passed, $failed failed, in $((SECONDS / 60))m$((SECONDS % 60))s"
