#!/usr/bin/env bash
# Runs the whole comparison (every backend, raw engine and the null backend on every
# workload), then regenerates docs/benchmarks.md and docs/benchmarks.svg from the
# results. Arguments go to criterion, e.g. a filter (`get_100B`, `/rocks$`) or
# `--warm-up-time 0.5 --measurement-time 1` for a short run. A full run takes about
# 20-30 minutes on 2 cores; run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo bench -p benches --bench compare -- "$@"
cargo run --release -p benches --bin bench_report
