#!/usr/bin/env bash
# Runs the whole comparison (every backend, raw engine and the null backend on every
# workload), then regenerates docs/benchmarks.md and docs/benchmarks.svg from the
# results. Arguments go to criterion, e.g. a filter (`get_100B`, `/rocks$`) or
# `--warm-up-time 0.5 --measurement-time 1` for a short run, `--noplot` to skip
# criterion's plots (a full run: about 30 minutes on 2 cores with plots, 12 without).
# Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo bench -p benches --bench compare -- "$@"
cargo run --release -p benches --bin bench_report
